"""Wiring: one metrics sink, one segment store, one CDR writer, one live-feed publisher (when
FEED_HTTP_URL is set), one server per process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from shared.feed_publisher import FeedPublisher
from shared.observability import logger
from streamer.calls import CallRecords
from streamer.config import StreamerSettings
from streamer.live_feed import LoopCounters, StreamerFeed
from streamer.metrics import StreamerMetrics
from streamer.segments import SegmentStore
from streamer.server import StreamerServer
from streamer.session import SessionDeps


@contextlib.asynccontextmanager
async def running(settings: StreamerSettings) -> AsyncIterator[StreamerServer]:
    """A started server; on exit it drains (DRAIN_SECONDS), stops the writers and flushes metrics."""
    from streamer.agent.deps import AgentDeps  # here: the anthropic SDK is slow to import

    agent = AgentDeps.build(settings)  # first: a bad agent configuration fails before any thread
    holder: list[StreamerServer] = []
    metrics = StreamerMetrics(
        settings.observability.powertools_service_name,
        active_calls=lambda: holder[0].active_calls if holder else 0,
    )
    publisher = FeedPublisher.from_settings(settings.feed, LoopCounters(metrics, asyncio.get_running_loop()))
    feed = StreamerFeed(publisher) if publisher is not None else None
    segments = settings.segments  # SegmentStore keeps its own keyword arguments (streamer/segments.py)
    store = SegmentStore(
        settings.transcripts_table,
        metrics,
        queue_size=segments.queue_size,
        threads=segments.writer_threads,
        attempts=segments.write_attempts,
        on_stored=feed.segments_stored if feed is not None else None,
    )
    if publisher is not None:
        publisher.start()
    store.start()
    records = CallRecords(
        settings.calls_table, on_transcript=feed.transcript_changed if feed is not None else None
    )
    deps = SessionDeps(
        settings=settings,
        store=store,
        records=records,
        metrics=metrics,
        agent=agent,
    )
    server = StreamerServer(deps)
    holder.append(server)
    await server.start()
    interval = settings.observability.metrics_interval_seconds
    metrics_task = asyncio.create_task(metrics.run(interval), name="metrics")
    try:
        yield server
    finally:
        await server.drain(settings.limits.drain_seconds)
        metrics_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await metrics_task
        await store.stop()
        await records.close()
        if publisher is not None:  # after the writers: their last events are queued by now
            await asyncio.to_thread(publisher.stop)
        await agent.close()
        metrics.flush()


async def serve_until_signalled(settings: StreamerSettings) -> int:
    """Run until SIGTERM/SIGINT; then /healthz turns 503 at once and calls drain (exit code 0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings) as server:
        await stop.wait()
        logger.info("signal received", active_calls=server.active_calls)
        server.begin_drain()
    logger.info("streamer stopped")
    return 0
