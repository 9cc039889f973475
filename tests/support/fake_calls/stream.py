"""Fake of `DynamoStreamCalls`: the transcript status never back from terminal, `failed` wins, start once."""

from __future__ import annotations

from collections.abc import Mapping

from shared.dal.records import StreamUsage
from shared.status import TranscriptStatus
from tests.support.fake_calls.core import TRANSCRIPT_ERROR_MAX, FakeCallAdapter, Item

_NOT_ENDED = (None, TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value)


class FakeStreamCalls(FakeCallAdapter):
    def transcript_started(self, call_sid: str, stream_sid: str) -> bool:
        def apply(item: Item) -> None:
            item.update(transcript_status=TranscriptStatus.IN_PROGRESS.value, stream_sid=stream_sid)

        return self.table.update(call_sid, apply, lambda item: item.get("transcript_status") in _NOT_ENDED)

    def transcript_finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int | None, error: str | None
    ) -> bool:
        def not_failed(item: Item) -> bool:
            return (
                status is TranscriptStatus.FAILED
                or item.get("transcript_status") != TranscriptStatus.FAILED.value
            )

        def apply(item: Item) -> None:
            item["transcript_status"] = status.value
            if segment_count is not None:
                item["segment_count"] = segment_count
            if error is not None:
                item["transcript_error"] = error[:TRANSCRIPT_ERROR_MAX]
            if status is not TranscriptStatus.FAILED:
                item["transcript_completed_at"] = self.table.now

        return self.table.update(call_sid, apply, not_failed)

    def transcript_failed(self, call_sid: str, error: str) -> bool:
        return self.transcript_finished(call_sid, TranscriptStatus.FAILED, None, error)

    def stream_started(self, call_sid: str, started_at: str) -> bool:
        def apply(item: Item) -> None:
            item["stream_started_at"] = started_at

        return self.table.update(call_sid, apply, lambda item: "stream_started_at" not in item)

    def record_stream_usage(self, usage: StreamUsage) -> None:
        def apply(item: Item) -> None:
            item["live_audio_seconds"] = usage.live_audio_seconds
            if usage.tts_characters is not None:
                item["tts_characters"] = usage.tts_characters

        self.table.update(usage.call_sid, apply)

    def save_redaction_counts(self, call_sid: str, counts: Mapping[str, int]) -> None:
        def apply(item: Item) -> None:
            item["redaction_counts"] = dict(counts)

        self.table.update(call_sid, apply)
