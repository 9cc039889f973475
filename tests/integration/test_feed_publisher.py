"""The feed publisher against the AppSync Events stand-in over real HTTP (SigV4) with a real
subscriber: delivered in order per channel, batched at most five per request, failures and a full
queue counted and dropped, and `publish` never waiting."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter

import pytest
from botocore.credentials import ReadOnlyCredentials

from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.aws_local import LOCAL_REGION
from shared.feed import LIVE_CHANNEL, call_channel
from shared.feed_publisher import FeedPublisher, FeedSettings
from tests.support.feed_wire import (  # noqa: F401 - fixtures
    LOCAL_CREDENTIALS,
    feed_fixture,
    next_message,
    open_feed,
    subscribe,
)
from tests.support.people import (  # noqa: F401 - fixtures
    Person,
    people_pool_fixture,
    person_fixture,
    viewer_fixture,
)

pytestmark = pytest.mark.integration


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def _add(self, name: str, events: int) -> None:
        with self.lock:
            self.counts[name] += events

    def published(self, events: int) -> None:
        self._add("published", events)

    def failed(self, events: int) -> None:
        self._add("failed", events)

    def dropped(self, events: int) -> None:
        self._add("dropped", events)


def local_credentials() -> ReadOnlyCredentials:
    return LOCAL_CREDENTIALS.get_frozen_credentials()


def publisher(url: str, counts: Counts, **options: object) -> FeedPublisher:
    return FeedPublisher(url, LOCAL_REGION, counts, credentials=local_credentials, **options)  # type: ignore[arg-type]


def event(n: int) -> str:
    return json.dumps({"type": "segment", "n": n})


async def test_events_reach_subscribers_in_order_per_channel_at_most_five_per_request(
    feed: AppSyncEventsStandIn, viewer: Person
) -> None:
    counts = Counts()
    feed_publisher = publisher(feed.http_url, counts, senders=4)
    feed_publisher.start()
    calls = [f"CA{n:032x}" for n in range(3)]
    auth = {"host": feed.http_host, "Authorization": viewer.id_token}
    try:
        async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
            for call in calls:
                assert (await subscribe(ws, call, call_channel(call), auth))["type"] == "subscribe_success"
            assert (await subscribe(ws, "live", LIVE_CHANNEL, auth))["type"] == "subscribe_success"
            for n in range(12):
                for call in calls:
                    assert feed_publisher.publish(call_channel(call), event(n)) is True
            feed_publisher.publish_all([LIVE_CHANNEL], event(99))
            received = [await next_message(ws) for _ in range(12 * len(calls) + 1)]
    finally:
        feed_publisher.stop()
    for call in calls:
        mine = [json.loads(m["event"])["n"] for m in received if m["id"] == call]
        assert mine == list(range(12))  # each channel in the order published
    assert [m["event"] for m in received if m["id"] == "live"] == [event(99)]
    assert all(size <= 5 for size in feed.batch_sizes)
    assert sum(feed.batch_sizes) == 37
    assert counts.counts == {"published": 37}


def test_a_refused_publish_is_counted_and_dropped(feed: AppSyncEventsStandIn) -> None:
    counts = Counts()
    wrong = ReadOnlyCredentials("testing", "not-the-secret", "testing")
    feed_publisher = FeedPublisher(feed.http_url, LOCAL_REGION, counts, credentials=lambda: wrong)
    feed_publisher.start()
    for n in range(7):
        feed_publisher.publish(LIVE_CHANNEL, event(n))
    assert feed_publisher.wait_idle(10)
    feed_publisher.stop()
    assert counts.counts == {"failed": 7}
    assert feed.published == 0
    assert feed.refused_publishes == 2  # five, then two


def test_an_unreachable_feed_is_counted_and_dropped() -> None:
    counts = Counts()
    feed_publisher = publisher("http://127.0.0.1:9", counts, timeout_seconds=1.0)  # discard port: refused
    feed_publisher.start()
    feed_publisher.publish(LIVE_CHANNEL, event(1))
    assert feed_publisher.wait_idle(10)
    feed_publisher.stop()
    assert counts.counts == {"failed": 1}


def test_publish_never_waits_a_full_queue_drops(feed: AppSyncEventsStandIn) -> None:
    counts = Counts()
    release = threading.Event()
    entered = threading.Event()

    def held_credentials() -> ReadOnlyCredentials:
        entered.set()
        release.wait(10)  # the sender is stuck (a slow network): the caller must not be
        return local_credentials()

    feed_publisher = FeedPublisher(
        feed.http_url, LOCAL_REGION, counts, credentials=held_credentials, queue_size=3, senders=1
    )
    feed_publisher.start()
    try:
        assert feed_publisher.publish(LIVE_CHANNEL, event(0))
        assert entered.wait(10)  # the sender took event 0 and is held
        accepted = [feed_publisher.publish(LIVE_CHANNEL, event(n)) for n in range(1, 10)]
        assert accepted == [True] * 3 + [False] * 6
        assert counts.counts["dropped"] == 6
    finally:
        release.set()
        assert feed_publisher.wait_idle(10)
        feed_publisher.stop()
    assert counts.counts == {"dropped": 6, "published": 4}


def test_settings_without_a_url_mean_no_feed() -> None:
    assert FeedPublisher.from_settings(FeedSettings.model_validate({}), Counts()) is None
    settings = FeedSettings.model_validate({"http_url": "http://127.0.0.1:1", "region": "eu-west-1"})
    built = FeedPublisher.from_settings(settings, Counts())
    assert built is not None


async def test_stop_sends_what_is_queued(feed: AppSyncEventsStandIn) -> None:
    counts = Counts()
    feed_publisher = publisher(feed.http_url, counts)
    feed_publisher.start()
    for n in range(8):
        feed_publisher.publish(LIVE_CHANNEL, event(n))
    await asyncio.to_thread(feed_publisher.stop)
    assert feed.published == 8
    assert counts.counts == {"published": 8}
