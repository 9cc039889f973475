"""`DynamoStreamCalls`: the streamer's writes to the call record.

One stream per call: a stream first claims the call (`claim_stream`, one conditional UpdateItem that
also writes what a start writes), and every later write of the streamer is conditional on the claim
naming that stream (`stream_owner`), so no other stream, on any task, can touch the record. What a
change must keep: a claim is refused once any stream has claimed the call (running or ended: its
`stream_sid` is stored) or its transcript has ended, and repeats itself for its own owner (a retried
claim); the streamer's writes never create the item, except the claim; the transcript status never
moves back to live, a `failed` wins over the other endings, and a final status clears an error it
does not carry; the stream's start is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.dal.calls.core import TRANSCRIPT_ERROR_MAX, CallTableAdapter
from shared.dal.records import StreamClaim, StreamUsage, TranscriptEnd
from shared.status import TranscriptStatus


class DynamoStreamCalls(CallTableAdapter):
    """`StreamClaims`, `TranscriptStatusWrites`, `StreamUsageWrites`, `RedactionCountWrites`."""

    def claim_stream(self, claim: StreamClaim) -> bool:
        m = self._table.model
        now = self._table.now()
        unclaimed = (
            m.stream_owner.does_not_exist()
            & m.stream_sid.does_not_exist()  # a stream of the code before claims also set it
            & (m.transcript_status.does_not_exist() | (m.transcript_status == TranscriptStatus.PENDING.value))
        )
        return self._table.update(
            claim.call_sid,
            [
                m.stream_owner.set(claim.owner),
                m.stream_sid.set(claim.stream_sid),
                m.transcript_status.set(TranscriptStatus.IN_PROGRESS.value),
                m.stream_started_at.set(m.stream_started_at | claim.started_at),
                m.stream_heartbeat_at.set(now),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            unclaimed | (m.stream_owner == claim.owner),  # the second: this claim, retried
            f"stream claim of {claim.call_sid}",
        )

    def heartbeat(self, call_sid: str, owner: str) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [m.stream_heartbeat_at.set(self._table.now())],
            m.stream_owner == owner,
            f"stream heartbeat of {call_sid}",
        )

    def transcript_finished(
        self,
        call_sid: str,
        owner: str,
        status: TranscriptStatus,
        segment_count: int | None,
        error: str | None,
    ) -> TranscriptEnd:
        m = self._table.model
        stamp = self._table.now()
        actions: list[Any] = [m.transcript_status.set(status.value), m.updated_at.set(stamp)]
        if segment_count is not None:
            actions.append(m.segment_count.set(segment_count))
        if error is not None:
            actions.append(m.transcript_error.set(error[:TRANSCRIPT_ERROR_MAX]))
        elif status is not TranscriptStatus.FAILED:
            actions.append(m.transcript_error.remove())  # an earlier ending's error is not this one's
        condition = m.stream_owner == owner
        if status is not TranscriptStatus.FAILED:
            actions.append(m.transcript_completed_at.set(stamp))
            # a failure recorded by this stream wins over "completed" and "incomplete"
            condition &= m.transcript_status.does_not_exist() | (
                m.transcript_status != TranscriptStatus.FAILED.value
            )
        stored = self._table.update_returning(call_sid, actions, condition, f"transcript end of {call_sid}")
        if stored is None:
            return TranscriptEnd.REFUSED
        return TranscriptEnd.ENDED if stored.transcript_swept_at is None else TranscriptEnd.AFTER_SWEEP

    def transcript_failed(self, call_sid: str, owner: str, error: str) -> bool:
        ended = self.transcript_finished(call_sid, owner, TranscriptStatus.FAILED, None, error)
        return ended is not TranscriptEnd.REFUSED

    def record_stream_usage(self, usage: StreamUsage, owner: str) -> bool:
        m = self._table.model
        actions: list[Any] = [
            m.live_audio_seconds.set(usage.live_audio_seconds),
            m.updated_at.set(self._table.now()),
        ]
        if usage.tts_characters is not None:
            actions.append(m.tts_characters.set(usage.tts_characters))
        return self._table.update(
            usage.call_sid, actions, m.stream_owner == owner, f"stream usage of {usage.call_sid}"
        )

    def save_redaction_counts(self, call_sid: str, owner: str, counts: Mapping[str, int]) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [m.redaction_counts.set(dict(counts)), m.updated_at.set(self._table.now())],
            m.stream_owner == owner,
            f"redaction counts of {call_sid}",
        )
