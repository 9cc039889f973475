"""The call feed Lambda: `handler(event, context)` for the calls table's DynamoDB stream.

Every tier writes the call record; this one reader of its stream (NEW_AND_OLD_IMAGES) turns the
changes the board and a call's page show into `call` messages on the live feed (`changes.py`), so no
tier publishes status on its own and a change is announced however it was written (webhook, sweeper,
summaries, recordings). Publishing is the shared `FeedPublisher`: batched, and waited for before the
invocation returns (a frozen Lambda would hold queued events); a failed publish is counted and
dropped, never retried: the feed is a view, the table the record, and the invocation always
succeeds so the stream never stalls on the feed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.call_feed import metric_names
from functions.call_feed.changes import call_update
from shared.dal.records import Call
from shared.feed_publisher import FeedPublisher, FeedSettings
from shared.observability import LambdaHandler, lambda_entry, logger, metrics
from shared.settings import EnvSettings

PUBLISH_WAIT_SECONDS = 10.0  # at most this of the invocation is spent sending what it queued


class CallFeedSettings(EnvSettings):
    feed: FeedSettings


class Tally:
    """`FeedCounters` for one process: thread-safe sums, emitted as metrics by the handler's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def _add(self, name: str, events: int) -> None:
        with self._lock:
            self._counts[name] += events

    def published(self, events: int) -> None:
        self._add(metric_names.FEED_EVENTS_PUBLISHED, events)

    def failed(self, events: int) -> None:
        self._add(metric_names.FEED_PUBLISH_FAILURES, events)

    def dropped(self, events: int) -> None:
        self._add(metric_names.FEED_EVENTS_DROPPED, events)

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts


def _call(image: dict[str, Any] | None) -> Call | None:
    return Call.from_item(image) if image else None


def create_handler(publisher: Callable[[], tuple[FeedPublisher, Tally]]) -> LambdaHandler:
    """The handler over `publisher()` (started once per process: the Lambda's, or the local stack's)."""

    @lambda_entry()
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        feed, tally = publisher()
        updates = 0
        for record in DynamoDBStreamEvent(event).records:
            change = record.dynamodb
            if change is None:
                continue
            try:
                update = call_update(_call(change.old_image), _call(change.new_image))
            except (TypeError, ValueError, KeyError):  # a record it cannot read: skipped, not retried
                logger.exception("stream record not readable", extra={"event_id": record.event_id})
                metrics.add_metric(name=metric_names.UNREADABLE_RECORDS, unit="Count", value=1)
                continue
            if update is not None:
                feed.publish_all(update.channels(), update.event())
                updates += 1
        if not feed.wait_idle(PUBLISH_WAIT_SECONDS):
            logger.warning("feed publishes still queued at the end of the invocation")
        metrics.add_metric(name=metric_names.CALL_UPDATES, unit="Count", value=updates)
        for name, value in tally.take().items():
            metrics.add_metric(name=name, unit="Count", value=value)
        return {"updates": updates}

    return handle


@cache
def _publisher() -> tuple[FeedPublisher, Tally]:
    settings = CallFeedSettings.from_env()
    tally = Tally()
    feed = FeedPublisher.from_settings(settings.feed, tally)
    if feed is None:
        raise RuntimeError("FEED_HTTP_URL is not set: the call feed has nowhere to publish")
    feed.start()
    return feed, tally


handler = create_handler(_publisher)
