"""`DynamoRecordingCalls`: the recordings tier's writes to the call record (`RecordingCalls`).

What a change must keep: the S3 key lands only on the recording it names; a reconciliation is
stored when its transcript version or the live transcript status it read differs from the stored
one (a re-driven reconciliation changes nothing), and one read while live was in progress never
replaces one read from a final live transcript.
"""

from __future__ import annotations

from shared.dal.calls.cost import DynamoCostWrites
from shared.dal.records import ReconciliationUpdate
from shared.status import TranscriptStatus

FINAL_TRANSCRIPT = (
    TranscriptStatus.COMPLETED.value,
    TranscriptStatus.INCOMPLETE.value,
    TranscriptStatus.FAILED.value,
)


class DynamoRecordingCalls(DynamoCostWrites):
    """`RecordingCalls`: the recording's copy and the reconciliation's result."""

    def set_recording_s3_key(self, call_sid: str, recording_sid: str, s3_key: str) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [m.recording_s3_key.set(s3_key), m.updated_at.set(self._table.now())],
            m.recording.sid == recording_sid,
            f"recording copy of {call_sid}",
        )

    def save_reconciliation(self, update: ReconciliationUpdate) -> bool:
        m = self._table.model
        now = self._table.now()
        changed = (
            m.transcript_version.does_not_exist()
            | (m.transcript_version != update.transcript_version)
            | m.reconciled_transcript_status.does_not_exist()
            | (m.reconciled_transcript_status != update.transcript_status)
        )
        condition = changed
        if update.transcript_status not in FINAL_TRANSCRIPT:
            # read early (live still in progress): never over one read from a final transcript
            condition = changed & (
                m.reconciled_transcript_status.does_not_exist()
                | ~m.reconciled_transcript_status.is_in(*FINAL_TRANSCRIPT)
            )
        return self._table.update(
            update.call_sid,
            [
                m.transcript_source.set(update.transcript_source),
                m.reconciled_segment_count.set(update.segment_count),
                m.live_coverage.set(update.live_coverage),
                m.gaps.set([gap.as_item() for gap in update.gaps]),
                m.filled_seconds.set(update.filled_seconds),
                m.transcript_version.set(update.transcript_version),
                m.alignment.set(update.alignment_item()),
                m.reconciled_transcript_status.set(update.transcript_status),
                *(
                    [m.recording_redaction_counts.set(dict(update.redaction_counts))]
                    if update.redaction_counts is not None
                    else []
                ),
                m.reconciled_at.set(now),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            condition,
            f"reconciliation of {update.call_sid}",
        )
