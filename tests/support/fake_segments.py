"""In-memory segments table with the same conditions as `shared.dal.segments.DynamoSegments`.

Segments are kept by (call SID, sort key), so a list reads in the table's Query order; the owned
writes, and the recording writes and deletes, refuse what the adapter refuses
(tests/integration/test_dal_agreement.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shared.dal.keys import check_recording_key
from shared.dal.records import Segment, SegmentPage, check_recording_segment


class FakeSegments:
    """Segments by call, kept in sort-key order like the table's Query returns them."""

    def __init__(self, segments: Sequence[Segment] = ()) -> None:
        self.items: dict[tuple[str, str], Segment] = {}
        self.owners: dict[tuple[str, str], str] = {}  # the stream that wrote each live segment
        self._lock = threading.Lock()
        self.write_segments(segments)

    def write_segments(self, segments: Sequence[Segment]) -> None:
        with self._lock:
            for segment in segments:
                self.items[(segment.call_sid, segment.segment_key)] = segment
                self.owners.pop((segment.call_sid, segment.segment_key), None)  # the put replaces the item

    def write_owned_segment(self, segment: Segment, owner: str) -> bool:
        key = (segment.call_sid, segment.segment_key)
        with self._lock:
            if key in self.items and self.owners.get(key) != owner:
                return False  # another stream's segment: it stays
            self.items[key] = segment
            self.owners[key] = owner
        return True

    def list_segments(self, call_sid: str) -> list[Segment]:
        with self._lock:
            return [self.items[key] for key in sorted(self.items) if key[0] == call_sid]

    def count_live_segments(self, call_sid: str) -> int:
        return sum(1 for segment in self.list_segments(call_sid) if not segment.from_recording)

    def page_segments(self, call_sid: str, *, limit: int, after: str | None = None) -> SegmentPage:
        """Like the adapter's one Query (without DynamoDB's 1 MB cut): `next_key` only when more follow."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        following = [s for s in self.list_segments(call_sid) if after is None or s.segment_key > after]
        page = following[:limit]
        return SegmentPage(page, page[-1].segment_key if len(following) > limit else None)

    def write_recording_segments(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            check_recording_segment(segment)
        self.write_segments(segments)

    def delete_recording_segments(self, call_sid: str, segment_keys: Sequence[str]) -> None:
        with self._lock:
            for key in segment_keys:
                check_recording_key(key)
                stored = self.items.get((call_sid, key))
                if stored is not None and stored.from_recording:  # the adapter's delete condition
                    del self.items[(call_sid, key)]
