"""The streamer's part of the live feed: each final segment once it is stored, and the transcript
status changes it writes, handed to the `FeedPublisher` (shared/feed_publisher.py).

Both hooks run in the threads that did the write (the segment writers, the CDR writers), never on the
event loop, and only put events on the publisher's queue: the audio path never waits for the feed.
The publisher's counts become the streamer's metrics (`FeedEventsPublished`, `FeedPublishFailures`,
`FeedEventsDropped`) through the loop, as every other counter. A stream's start says the call is
`in-progress` (Twilio streams only an answered call); its end says only the transcript's status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from shared.dal.records import Segment
from shared.feed import CallUpdate, call_channel, segment_event
from shared.feed_publisher import FeedPublisher
from shared.status import CallStatus, TranscriptStatus
from streamer import metrics as m
from streamer.metrics import StreamerMetrics


class LoopCounters:
    """`FeedCounters` over `StreamerMetrics`, which only the event loop's thread may touch."""

    def __init__(self, metrics: StreamerMetrics, loop: asyncio.AbstractEventLoop) -> None:
        self._metrics = metrics
        self._loop = loop

    def _count(self, name: str, value: int) -> None:
        if value and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._metrics.incr, name, value)

    def published(self, events: int) -> None:
        self._count(m.FEED_EVENTS_PUBLISHED, events)

    def failed(self, events: int) -> None:
        self._count(m.FEED_PUBLISH_FAILURES, events)

    def dropped(self, events: int) -> None:
        self._count(m.FEED_EVENTS_DROPPED, events)


class StreamerFeed:
    """What the streamer tells the feed; every method is safe from any thread and returns at once."""

    def __init__(self, publisher: FeedPublisher) -> None:
        self._publisher = publisher

    def segments_stored(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            self._publisher.publish(call_channel(segment.call_sid), segment_event(segment))

    def transcript_changed(self, call_sid: str, status: TranscriptStatus) -> None:
        started = status is TranscriptStatus.IN_PROGRESS
        update = CallUpdate(
            call_sid=call_sid,
            status=CallStatus.IN_PROGRESS.value if started else None,
            transcript_status=status.value,
        )
        self._publisher.publish_all(update.channels(), update.event())
