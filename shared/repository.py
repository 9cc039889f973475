"""Reads of the call record and its transcript that more than one tier needs.

Writes stay with the tier that owns them (webhooks: parties and status; streamer: segments and
transcript status; summaries: the summary), each as a conditional or idempotent update.
"""

from __future__ import annotations

from shared.models import CallRecord, TranscriptSegment, calls_model, segments_model


def get_call(calls_table: str, call_sid: str) -> CallRecord | None:
    """The call record, or None when Twilio has told us nothing about this call yet."""
    model = calls_model(calls_table)
    try:
        return model.get(call_sid, consistent_read=True)
    except model.DoesNotExist:
        return None


def list_segments(transcripts_table: str, call_sid: str) -> list[TranscriptSegment]:
    """Every stored final segment of a call, ordered by stream time then track (the sort key's order)."""
    model = segments_model(transcripts_table)
    return list(model.query(call_sid, consistent_read=True))
