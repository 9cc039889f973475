"""`DynamoStreamCalls`: the streamer's writes to the call record.

The streamer writes attributes no other tier writes, and may create the item before the status
webhook does. What a change must keep: the transcript status never moves back from a terminal
value and a `failed` wins over the other endings; the stream's start is written once; usage and
redaction counts are plain SETs, so a retried write stores the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.dal.calls.core import TRANSCRIPT_ERROR_MAX, CallTableAdapter
from shared.dal.records import StreamUsage
from shared.status import TranscriptStatus


class DynamoStreamCalls(CallTableAdapter):
    """`TranscriptStatusWrites`, `StreamStartWrites`, `StreamUsageWrites`, `RedactionCountWrites`."""

    def transcript_started(self, call_sid: str, stream_sid: str) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [
                m.transcript_status.set(TranscriptStatus.IN_PROGRESS.value),
                m.stream_sid.set(stream_sid),
                m.updated_at.set(self._table.now()),
            ],
            m.transcript_status.does_not_exist()
            | m.transcript_status.is_in(TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value),
            f"transcript start of {call_sid}",
        )

    def transcript_finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int | None, error: str | None
    ) -> bool:
        m = self._table.model
        stamp = self._table.now()
        actions: list[Any] = [m.transcript_status.set(status.value), m.updated_at.set(stamp)]
        if segment_count is not None:
            actions.append(m.segment_count.set(segment_count))
        if error is not None:
            actions.append(m.transcript_error.set(error[:TRANSCRIPT_ERROR_MAX]))
        condition = None
        if status is not TranscriptStatus.FAILED:
            actions.append(m.transcript_completed_at.set(stamp))
            # a failure recorded by this stream wins over "completed" and "incomplete"
            condition = m.transcript_status.does_not_exist() | (
                m.transcript_status != TranscriptStatus.FAILED.value
            )
        return self._table.update(call_sid, actions, condition, f"transcript end of {call_sid}")

    def transcript_failed(self, call_sid: str, error: str) -> bool:
        return self.transcript_finished(call_sid, TranscriptStatus.FAILED, None, error)

    def stream_started(self, call_sid: str, started_at: str) -> bool:
        m = self._table.model
        now = self._table.now()
        return self._table.update(
            call_sid,
            [
                m.stream_started_at.set(started_at),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            m.stream_started_at.does_not_exist(),
            f"stream start of {call_sid}",
        )

    def record_stream_usage(self, usage: StreamUsage) -> None:
        m = self._table.model
        now = self._table.now()
        actions: list[Any] = [
            m.live_audio_seconds.set(usage.live_audio_seconds),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
        ]
        if usage.tts_characters is not None:
            actions.append(m.tts_characters.set(usage.tts_characters))
        self._table.update(usage.call_sid, actions, None, f"stream usage of {usage.call_sid}")

    def save_redaction_counts(self, call_sid: str, counts: Mapping[str, int]) -> None:
        m = self._table.model
        now = self._table.now()
        self._table.update(
            call_sid,
            [
                m.redaction_counts.set(dict(counts)),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            None,
            f"redaction counts of {call_sid}",
        )
