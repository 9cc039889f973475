"""Final segments to DynamoDB, written by threads so the event loop never waits on the network.

Sessions hand segments over through a bounded queue (memory stays bounded: a full queue makes the
handing-over coroutine wait, which in turn slows only that call's result handling). Writer threads
write one segment at a time as the stream that owns its call (one conditional PutItem through the
data layer's `OwnedSegmentWrites` port: docs/streamer.md, "Storing segments", says why not a
batch), retry it with backoff on throttling or errors, and report back to the loop, where each
call's `CallWrites` counts what is still in flight so the session can flush before it marks the
transcript complete. A segment refused because another stream's is stored at its key is counted,
never retried. A segment once stored is also handed to `on_stored` in the writer thread (the live
feed: streamer/live_feed.py), which must return at once.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.dal.keys import segment_key
from shared.dal.ports import OwnedSegmentWrites
from shared.dal.records import Segment as StoredSegment
from shared.dal.retry import with_retries
from shared.dal.segments import DynamoSegments
from shared.observability import logger
from streamer import metrics as m

if TYPE_CHECKING:
    from streamer.deepgram import Segment
    from streamer.metrics import StreamerMetrics

_STOP = object()


WRITTEN, FAILED, REFUSED = "written", "failed", "refused"  # how one segment's write ended


class CallWrites:
    """One call's segments in flight, written as the stream that owns the call; lives on the event loop."""

    def __init__(self, call_sid: str, owner: str) -> None:
        self.call_sid = call_sid
        self.owner = owner
        self.pending = 0
        self.written = 0
        self.failed = 0  # given up after every retry
        self.refused = 0  # another stream's segment is stored at its key
        self._idle = asyncio.Event()
        self._idle.set()

    def _added(self) -> None:
        self.pending += 1
        self._idle.clear()

    def _done(self, outcome: str) -> None:
        self.pending -= 1
        if outcome == WRITTEN:
            self.written += 1
        elif outcome == REFUSED:
            self.refused += 1
        else:
            self.failed += 1
        if self.pending == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()


@dataclass(slots=True)
class _Item:
    writes: CallWrites
    segment: Segment
    speaker: str
    source: str
    language: str
    key: str = field(default="")


class SegmentStore:
    def __init__(
        self,
        table_name: str,
        metrics: StreamerMetrics,
        *,
        queue_size: int = 10000,
        threads: int = 4,
        attempts: int = 6,
        backoff_base: float = 0.1,
        on_stored: Callable[[Sequence[StoredSegment]], None] | None = None,
    ) -> None:
        self._segments: OwnedSegmentWrites = DynamoSegments(table_name)
        self._on_stored = on_stored
        self._metrics = metrics
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread_count = threads
        self._attempts = attempts
        self._backoff_base = backoff_base
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for number in range(self._thread_count):
            thread = threading.Thread(target=self._work, name=f"segment-writer-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    async def stop(self) -> None:
        """Write everything queued, then end the threads."""
        for _ in self._threads:
            await asyncio.to_thread(self._queue.put, _STOP)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._threads.clear()

    def put(
        self, writes: CallWrites, segment: Segment, speaker: str, source: str, language: str
    ) -> Coroutine[Any, Any, None] | None:
        """Queue one segment, counted in flight at once. When the queue is full, returns a coroutine
        the caller must await (it waits in a thread for room): back-pressure instead of unbounded memory."""
        item = _Item(writes, segment, speaker, source, language, segment_key(segment.start, segment.track))
        writes._added()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return asyncio.to_thread(self._queue.put, item)
        return None

    # ---- writer threads ----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if not isinstance(item, _Item):
                return  # _STOP: everything queued before it is written
            self._report(item, self._write(item))

    def _write(self, item: _Item) -> str:
        def retrying(attempt: int, exc: Exception) -> None:
            self._from_thread(self._metrics.incr, m.WRITE_RETRIES)
            logger.warning("segment write failed, retrying", error=str(exc)[:300], attempt=attempt)

        stored = self._to_stored(item)
        owner = item.writes.owner
        try:
            written = with_retries(
                lambda: self._segments.write_owned_segment(stored, owner),
                attempts=self._attempts,
                backoff_base=self._backoff_base,
                on_retry=retrying,
            )
        except Exception as exc:  # noqa: BLE001 - what is retryable was retried; the writer thread lives on
            logger.error(
                "segment write failed, giving up",
                call_sid=item.writes.call_sid,
                segment_key=item.key,
                error=str(exc)[:300],
                attempts=self._attempts,
            )
            return FAILED
        if not written:
            logger.error(
                "segment refused: another stream's segment is stored at its key",
                call_sid=item.writes.call_sid,
                segment_key=item.key,
            )
            return REFUSED
        if self._on_stored is not None:
            try:
                self._on_stored([stored])
            except Exception as exc:  # noqa: BLE001 - the feed is a view: its bug never stops a write
                logger.error("on_stored hook failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return WRITTEN

    @staticmethod
    def _to_stored(item: _Item) -> StoredSegment:
        seg = item.segment
        return StoredSegment(
            call_sid=item.writes.call_sid,
            segment_key=item.key,
            track=seg.track,
            speaker=item.speaker,
            text=seg.text,
            start=seg.start,
            end=seg.end,
            confidence=seg.confidence,
            language=item.language,
            source=item.source,
        )

    def _report(self, item: _Item, outcome: str) -> None:
        done_at = time.monotonic()

        def apply() -> None:
            item.writes._done(outcome)
            if outcome == WRITTEN:
                self._metrics.incr(m.SEGMENTS_WRITTEN)
                self._metrics.store_latency((done_at - item.segment.final_at) * 1000)
            else:
                self._metrics.incr(m.SEGMENT_WRITE_FAILURES)

        self._from_thread(apply)

    def _from_thread(self, fn: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)
