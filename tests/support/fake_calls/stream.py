"""Fake of `DynamoStreamCalls`: one claim per call (repeatable by its owner), every later write only
by the owner, the transcript status never back to live, `failed` wins, a final status clears an
error it does not carry, the stream's start written once."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shared.dal.records import StreamClaim, StreamUsage, TranscriptEnd
from shared.status import TranscriptStatus
from tests.support.fake_calls.core import TRANSCRIPT_ERROR_MAX, FakeCallAdapter, Item


class FakeStreamCalls(FakeCallAdapter):
    def claim_stream(self, claim: StreamClaim) -> bool:
        def claimable(item: Item) -> bool:
            if item.get("stream_owner") == claim.owner:
                return True  # this claim, retried
            return (
                "stream_owner" not in item
                and "stream_sid" not in item
                and item.get("transcript_status") in (None, TranscriptStatus.PENDING.value)
            )

        def apply(item: Item) -> None:
            item.update(
                stream_owner=claim.owner,
                stream_sid=claim.stream_sid,
                transcript_status=TranscriptStatus.IN_PROGRESS.value,
                stream_heartbeat_at=self.table.now,
            )
            item.setdefault("stream_started_at", claim.started_at)

        return self.table.update(claim.call_sid, apply, claimable)

    def heartbeat(self, call_sid: str, owner: str) -> bool:
        def apply(item: Item) -> None:
            item["stream_heartbeat_at"] = self.table.now

        return self.table.update(call_sid, apply, _owned_by(owner))

    def transcript_finished(
        self,
        call_sid: str,
        owner: str,
        status: TranscriptStatus,
        segment_count: int | None,
        error: str | None,
    ) -> TranscriptEnd:
        def allowed(item: Item) -> bool:
            return item.get("stream_owner") == owner and (
                status is TranscriptStatus.FAILED
                or item.get("transcript_status") != TranscriptStatus.FAILED.value
            )

        def apply(item: Item) -> None:
            item["transcript_status"] = status.value
            if segment_count is not None:
                item["segment_count"] = segment_count
            if error is not None:
                item["transcript_error"] = error[:TRANSCRIPT_ERROR_MAX]
            elif status is not TranscriptStatus.FAILED:
                item.pop("transcript_error", None)
            if status is not TranscriptStatus.FAILED:
                item["transcript_completed_at"] = self.table.now

        stored = self.table.update_returning(call_sid, apply, allowed)
        if stored is None:
            return TranscriptEnd.REFUSED
        return TranscriptEnd.ENDED if "transcript_swept_at" not in stored else TranscriptEnd.AFTER_SWEEP

    def transcript_failed(self, call_sid: str, owner: str, error: str) -> bool:
        ended = self.transcript_finished(call_sid, owner, TranscriptStatus.FAILED, None, error)
        return ended is not TranscriptEnd.REFUSED

    def record_stream_usage(self, usage: StreamUsage, owner: str) -> bool:
        def apply(item: Item) -> None:
            item["live_audio_seconds"] = usage.live_audio_seconds
            if usage.tts_characters is not None:
                item["tts_characters"] = usage.tts_characters

        return self.table.update(usage.call_sid, apply, _owned_by(owner))

    def save_redaction_counts(self, call_sid: str, owner: str, counts: Mapping[str, int]) -> bool:
        def apply(item: Item) -> None:
            item["redaction_counts"] = dict(counts)

        return self.table.update(call_sid, apply, _owned_by(owner))


def _owned_by(owner: str) -> Callable[[Item], bool]:
    def owned(item: Item) -> bool:
        return item.get("stream_owner") == owner

    return owned
