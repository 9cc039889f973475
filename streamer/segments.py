"""Final segments to DynamoDB, written by threads so the event loop never waits on the network.

Sessions hand segments over through a bounded queue (memory stays bounded: a full queue makes the
handing-over coroutine wait, which in turn slows only that call's result handling). Writer threads
take up to 25 at a time (one BatchWriteItem through the data layer's `SegmentBatchWrites` port),
retry the batch with backoff on throttling or errors, and report back to the loop, where each call's
`CallWrites` counts what is still in flight so the session can flush before it marks the transcript
complete.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.dal.keys import segment_key
from shared.dal.ports import SegmentBatchWrites
from shared.dal.records import Segment as StoredSegment
from shared.dal.retry import RETRYABLE, with_retries
from shared.dal.segments import DynamoSegments
from shared.observability import logger
from streamer import metrics as m

if TYPE_CHECKING:
    from streamer.deepgram import Segment
    from streamer.metrics import StreamerMetrics

_STOP = object()


class CallWrites:
    """One call's segments in flight; lives on the event loop."""

    def __init__(self, call_sid: str) -> None:
        self.call_sid = call_sid
        self.pending = 0
        self.written = 0
        self.failed = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def _added(self) -> None:
        self.pending += 1
        self._idle.clear()

    def _done(self, ok: bool) -> None:
        self.pending -= 1
        if ok:
            self.written += 1
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
        batch_size: int = 25,
        queue_size: int = 10000,
        threads: int = 2,
        attempts: int = 6,
        backoff_base: float = 0.1,
    ) -> None:
        self._segments: SegmentBatchWrites = DynamoSegments(table_name)
        self._metrics = metrics
        self._batch_size = batch_size
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
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop_seen = False
            while len(batch) < self._batch_size:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop_seen = True
                    break
                batch.append(nxt)
            items = [i for i in batch if isinstance(i, _Item)]
            ok = self._write(items)
            self._report(items, ok)
            if stop_seen:
                return

    def _write(self, items: list[_Item]) -> bool:
        def retrying(attempt: int, exc: Exception) -> None:
            self._from_thread(self._metrics.incr, m.WRITE_RETRIES)
            logger.warning("segment batch write failed, retrying", error=str(exc)[:300], attempt=attempt)

        try:
            with_retries(
                lambda: self._segments.write_segments([self._to_stored(item) for item in items]),
                attempts=self._attempts,
                backoff_base=self._backoff_base,
                on_retry=retrying,
            )
        except RETRYABLE as exc:
            logger.error(
                "segment batch write failed, giving up",
                call_sids=sorted({i.writes.call_sid for i in items}),
                error=str(exc)[:300],
                attempts=self._attempts,
            )
            return False
        return True

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

    def _report(self, items: list[_Item], ok: bool) -> None:
        done_at = time.monotonic()

        def apply() -> None:
            for item in items:
                item.writes._done(ok)
                if ok:
                    self._metrics.incr(m.SEGMENTS_WRITTEN)
                    self._metrics.store_latency((done_at - item.segment.final_at) * 1000)
                else:
                    self._metrics.incr(m.SEGMENT_WRITE_FAILURES)

        self._from_thread(apply)

    def _from_thread(self, fn: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)
