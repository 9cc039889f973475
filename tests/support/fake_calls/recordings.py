"""Fake of `DynamoRecordingCalls`: the S3 key onto the named recording, a reconciliation once per version."""

from __future__ import annotations

from shared.dal.records import ReconciliationUpdate
from shared.status import TranscriptStatus
from tests.support.fake_calls.core import Item
from tests.support.fake_calls.cost import FakeCostWrites

_FINAL = (TranscriptStatus.COMPLETED.value, TranscriptStatus.INCOMPLETE.value, TranscriptStatus.FAILED.value)


class FakeRecordingCalls(FakeCostWrites):
    def set_recording_s3_key(self, call_sid: str, recording_sid: str, s3_key: str) -> bool:
        def names_it(item: Item) -> bool:
            recording = item.get("recording")
            return recording is not None and recording.get("sid") == recording_sid

        def apply(item: Item) -> None:
            item["recording_s3_key"] = s3_key

        return self.table.update(call_sid, apply, names_it)

    def save_reconciliation(self, update: ReconciliationUpdate) -> bool:
        def storable(item: Item) -> bool:
            same = (
                item.get("transcript_version") == update.transcript_version
                and item.get("reconciled_transcript_status") == update.transcript_status
            )
            stale = (
                update.transcript_status not in _FINAL and item.get("reconciled_transcript_status") in _FINAL
            )
            return not (same or stale)

        def apply(item: Item) -> None:
            item.update(
                transcript_source=update.transcript_source,
                reconciled_segment_count=update.segment_count,
                live_coverage=update.live_coverage,
                gaps=[gap.as_item() for gap in update.gaps],
                filled_seconds=update.filled_seconds,
                transcript_version=update.transcript_version,
                alignment=update.alignment_item(),
                reconciled_transcript_status=update.transcript_status,
                reconciled_at=self.table.now,
            )
            if update.redaction_counts is not None:
                item["recording_redaction_counts"] = dict(update.redaction_counts)

        return self.table.update(update.call_sid, apply, storable)
