"""`DynamoSegments`: the transcript segments table, every segments port of shared/dal/ports.py.

What a change must keep: every write is a keyed put (`shared.dal.keys`), so a retry overwrites
itself; a live segment is written by the stream that owns its call only over nothing or its own
(`write_owned_segment`: one conditional PutItem, docs/streamer.md says why not a batch);
`page_segments` is exactly one Query (bounded by DynamoDB's 1 MB); the recordings tier's writes and
deletes touch only `#r` keys with `origin = recording`, never a live segment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pynamodb.exceptions import DeleteError, PutError, PynamoDBException

from shared import clock
from shared.dal.keys import check_recording_key
from shared.dal.records import RECORDING, Segment, SegmentPage, check_recording_segment
from shared.dal.tables import TranscriptSegment, segments_model
from shared.dal.updates import CONDITIONAL_CHECK_FAILED, error_code
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

    def count_live_segments(self, call_sid: str) -> int:
        model = self._model
        try:
            # Select=COUNT: DynamoDB counts on its side, so no segment text crosses the wire
            return int(
                model.count(call_sid, filter_condition=model.origin.does_not_exist(), consistent_read=True)
            )
        except PynamoDBException as exc:
            raise StoreError(f"counting the segments of {call_sid} failed: {exc}") from exc

    def page_segments(self, call_sid: str, *, limit: int, after: str | None = None) -> SegmentPage:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        start = None if after is None else {"call_sid": {"S": call_sid}, "segment_key": {"S": after}}
        try:
            # One more than asked: when it comes back, more follow; when not, this page is the last,
            # so the last page says so instead of pointing at an empty one.
            results = self._model.query(
                call_sid,
                consistent_read=True,
                limit=limit + 1,
                page_size=limit + 1,
                last_evaluated_key=start,
            )
            response = next(results.page_iter)  # one Query request, never more
        except PynamoDBException as exc:
            raise StoreError(f"reading a page of the segments of {call_sid} failed: {exc}") from exc
        items = [to_segment(self._model.from_raw_data(raw)) for raw in response.get("Items") or []]
        if len(items) > limit:
            page = items[:limit]
            return SegmentPage(page, page[-1].segment_key)
        # Fewer than asked with a LastEvaluatedKey: the Query stopped at 1 MB; resume after it.
        last_evaluated = response.get("LastEvaluatedKey")
        next_key = None if not last_evaluated else str(last_evaluated["segment_key"]["S"])
        return SegmentPage(items, next_key)

    def write_owned_segment(self, segment: Segment, owner: str) -> bool:
        model = self._model
        item = self._item(segment)
        item.stream_owner = owner
        try:
            item.save(condition=model.segment_key.does_not_exist() | (model.stream_owner == owner))
        except PutError as exc:
            if error_code(exc) == CONDITIONAL_CHECK_FAILED:
                return False  # another stream's segment: it stays
            raise StoreError(
                f"writing segment {segment.segment_key} of {segment.call_sid} failed: {exc}"
            ) from exc
        return True

    def write_segments(self, segments: Sequence[Segment]) -> None:
        """Store every segment by BatchWriteItem (the recordings tier's, and tests' set-ups): for a
        key given twice the later segment wins."""
        # one BatchWriteItem may not name a key twice: the later segment for a key wins
        unique = {(segment.call_sid, segment.segment_key): segment for segment in segments}
        try:
            with self._model.batch_write() as batch:
                for segment in unique.values():
                    batch.save(self._item(segment))
        except PynamoDBException as exc:
            call_sids = sorted({sid for sid, _ in unique})
            raise StoreError(f"writing {len(unique)} segments of {call_sids} failed: {exc}") from exc

    def _item(self, segment: Segment) -> TranscriptSegment:
        return self._model(
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
