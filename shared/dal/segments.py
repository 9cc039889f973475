"""`DynamoSegments`: the transcript segments table, written by the streamer and read by the others.

The sort key comes from the segment's own timing (`segment_key`), so every write is a keyed put that
a retry overwrites; BatchWriteItem carries up to 25 of them per request (pynamodb splits longer
batches and retries unprocessed items itself).

The recordings tier writes and removes only segments it added: keys ending in `#r`
(`recording_segment_key`) with `origin = recording`, which no live segment has, so a reconciliation
can never overwrite or delete what the streamer stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pynamodb.exceptions import DeleteError, PynamoDBException

from shared import clock
from shared.dal.models import TranscriptSegment, segments_model
from shared.dal.records import RECORDING, Segment, check_recording_key, check_recording_segment
from shared.dal.updates import CONDITIONAL_CHECK_FAILED
from shared.errors import StoreError


def to_segment(item: TranscriptSegment) -> Segment:
    return Segment.from_item(item.attribute_values)


class DynamoSegments:
    """Implements every segments-table port of shared/dal/ports.py over one transcript segments table."""

    def __init__(self, transcripts_table: str, now: Callable[[], str] = clock.now_iso) -> None:
        self._model = segments_model(transcripts_table)
        self._now = now

    def list_segments(self, call_sid: str) -> list[Segment]:
        try:
            return [to_segment(item) for item in self._model.query(call_sid, consistent_read=True)]
        except PynamoDBException as exc:
            raise StoreError(f"reading the segments of {call_sid} failed: {exc}") from exc

    def write_segments(self, segments: Sequence[Segment]) -> None:
        # one BatchWriteItem may not name a key twice: the later segment for a key wins
        unique = {(segment.call_sid, segment.segment_key): segment for segment in segments}
        model = self._model
        try:
            with model.batch_write() as batch:
                for segment in unique.values():
                    batch.save(
                        model(
                            segment.call_sid,
                            segment.segment_key,
                            track=segment.track,
                            speaker=segment.speaker,
                            text=segment.text,
                            start=segment.start,
                            end=segment.end,
                            confidence=segment.confidence,
                            language=segment.language,
                            source=segment.source,
                            origin=segment.origin,
                            created_at=segment.created_at or self._now(),
                        )
                    )
        except PynamoDBException as exc:
            call_sids = sorted({sid for sid, _ in unique})
            raise StoreError(f"writing {len(unique)} segments of {call_sids} failed: {exc}") from exc

    def write_recording_segments(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            check_recording_segment(segment)
        self.write_segments(segments)

    def delete_recording_segments(self, call_sid: str, segment_keys: Sequence[str]) -> None:
        model = self._model
        for key in segment_keys:
            check_recording_key(key)
            try:
                # conditional, so even a wrong key can only ever remove a segment the recording added
                model(call_sid, key).delete(condition=model.origin == RECORDING)
            except DeleteError as exc:
                if exc.cause_response_code != CONDITIONAL_CHECK_FAILED:  # gone already: nothing to do
                    raise StoreError(f"deleting segment {key} of {call_sid} failed: {exc}") from exc
