"""The segment store against DynamoDB (moto server): writes off the loop as the stream that owns the
call, idempotent keys, retries with backoff, a clear failure count when a segment cannot be written,
and another stream's segment never overwritten."""

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


OWNER = "0f" * 16


async def test_segments_are_written_in_threads_and_reported_per_call(
    local_stack: LocalAws, call_sid: str
) -> None:
    metrics = StreamerMetrics("test")
    store = SegmentStore(local_stack.names.transcripts_table, metrics, threads=2)
    store.start()
    writes = CallWrites(call_sid, OWNER)
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


async def test_failing_writes_are_retried_then_counted_as_failed(
    local_stack: LocalAws, call_sid: str
) -> None:
    metrics = StreamerMetrics("test")
    store = SegmentStore("no-such-table", metrics, threads=1, attempts=3, backoff_base=0.01)
    store.start()
    writes = CallWrites(call_sid, OWNER)
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
    writes = CallWrites(call_sid, OWNER)
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


async def test_a_segment_another_stream_stored_is_refused_not_overwritten(
    local_stack: LocalAws, call_sid: str
) -> None:
    metrics = StreamerMetrics("test")
    store = SegmentStore(local_stack.names.transcripts_table, metrics, threads=1)
    store.start()
    first, replay = CallWrites(call_sid, OWNER), CallWrites(call_sid, "a1" * 16)
    try:
        store.put(first, _segment(2.0, "i will pay the full amount"), "caller", "deepgram:nova-3", "en")
        await asyncio.wait_for(first.wait_idle(), timeout=20)
        store.put(replay, _segment(2.0, "i want a refund"), "caller", "deepgram:nova-3", "en")
        store.put(replay, _segment(9.0, "and you agreed"), "caller", "deepgram:nova-3", "en")
        await asyncio.wait_for(replay.wait_idle(), timeout=20)
    finally:
        await store.stop()
    reader = DynamoSegments(local_stack.names.transcripts_table)
    stored = await asyncio.to_thread(reader.list_segments, call_sid)
    # the key the first stream holds keeps its words; a new key is not the segment store's to refuse
    # (only a stream that claimed the call writes at all: tests/integration/test_streamer_one_stream.py)
    assert [s.text for s in stored] == ["i will pay the full amount", "and you agreed"]
    assert (replay.written, replay.refused, replay.failed) == (1, 1, 0)
    assert metrics.totals["WriteRetries"] == 0
