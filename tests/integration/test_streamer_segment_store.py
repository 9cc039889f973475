"""The segment store against DynamoDB (moto server): batched writes off the loop, idempotent keys,
retries with backoff, and a clear failure count when a batch cannot be written."""

from __future__ import annotations

import asyncio
import time

import pytest

from callscribe_local.aws_local import LocalAws
from shared.dal.segments import DynamoSegments
from streamer.deepgram import Segment
from streamer.metrics import StreamerMetrics
from streamer.segments import CallWrites, SegmentStore

pytestmark = pytest.mark.integration


def _segment(start: float, text: str, track: str = "inbound") -> Segment:
    return Segment(
        track=track, text=text, start=start, end=start + 0.5, confidence=0.9, final_at=time.monotonic()
    )


async def test_batches_are_written_in_threads_and_reported_per_call(
    local_stack: LocalAws, call_sid: str
) -> None:
    metrics = StreamerMetrics("test")
    store = SegmentStore(local_stack.names.transcripts_table, metrics, batch_size=25, threads=2)
    store.start()
    writes = CallWrites(call_sid)
    try:
        for i in range(60):
            assert (
                store.put(writes, _segment(i * 0.5, f"word {i}"), "caller", "deepgram:nova-3", "en") is None
            )
        # the same segment again (a retried write): same key, stored once
        assert store.put(writes, _segment(0.0, "word 0"), "caller", "deepgram:nova-3", "en") is None
        await asyncio.wait_for(writes.wait_idle(), timeout=20)
    finally:
        await store.stop()
    reader = DynamoSegments(local_stack.names.transcripts_table)
    stored = await asyncio.to_thread(reader.list_segments, call_sid)
    assert [s.text for s in stored] == [f"word {i}" for i in range(60)]
    assert {(s.speaker, s.source, s.language) for s in stored} == {("caller", "deepgram:nova-3", "en")}
    assert (writes.written, writes.failed, writes.pending) == (61, 0, 0)
    assert metrics.totals["SegmentsWritten"] == 61
    assert metrics.totals["WriteRetries"] == 0


async def test_failing_batches_are_retried_then_counted_as_failed(
    local_stack: LocalAws, call_sid: str
) -> None:
    metrics = StreamerMetrics("test")
    store = SegmentStore("no-such-table", metrics, threads=1, attempts=3, backoff_base=0.01)
    store.start()
    writes = CallWrites(call_sid)
    try:
        store.put(writes, _segment(1.0, "lost"), "caller", "deepgram:nova-3", "en")
        await asyncio.wait_for(writes.wait_idle(), timeout=20)
    finally:
        await store.stop()
    assert (writes.written, writes.failed) == (0, 1)
    assert metrics.totals["WriteRetries"] == 2
    assert metrics.totals["SegmentWriteFailures"] == 1


async def test_a_full_queue_makes_the_caller_wait_instead_of_growing(
    local_stack: LocalAws, call_sid: str
) -> None:
    metrics = StreamerMetrics("test")
    store = SegmentStore(local_stack.names.transcripts_table, metrics, queue_size=1, threads=1)
    writes = CallWrites(call_sid)
    assert store.put(writes, _segment(0.0, "first"), "caller", "m", "en") is None
    waiter = store.put(writes, _segment(0.5, "second"), "caller", "m", "en")  # queue full, no writer yet
    assert waiter is not None
    store.start()
    try:
        await asyncio.wait_for(waiter, timeout=10)
        await asyncio.wait_for(writes.wait_idle(), timeout=20)
    finally:
        await store.stop()
    assert writes.written == 2
