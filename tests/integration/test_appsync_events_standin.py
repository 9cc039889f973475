"""The AppSync Events stand-in over its real protocols: SigV4-signed HTTP publishes (botocore's signer,
httpx) and realtime subscribers (websockets), with tokens from moto's Cognito."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.appsync_realtime import SUBPROTOCOL, auth_protocol
from callscribe_local.cognito import UserPool
from shared.access import SUPERVISORS
from tests.support.feed_wire import (
    make_feed,
    next_message,
    open_feed,
    raw_feed,
    signed_publish,
    subscribe,
)
from tests.support.people import (  # noqa: F401 - fixtures
    Person,
    people_pool_fixture,
    person_fixture,
    viewer_fixture,
)

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def feed(people_pool: UserPool, clock: Clock) -> Iterator[AppSyncEventsStandIn]:
    with make_feed(people_pool, clock) as running:
        yield running


def auth(feed: AppSyncEventsStandIn, person: Person) -> dict[str, str]:
    return {"host": feed.http_host, "Authorization": person.id_token}


def event(n: int, **extra: object) -> str:
    return json.dumps({"type": "segment", "n": n, **extra})


# ---- publish and delivery ------------------------------------------------------------------------


async def test_published_events_reach_exact_and_wildcard_subscribers_in_order(
    feed: AppSyncEventsStandIn, viewer: Person
) -> None:
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        assert ws.subprotocol == SUBPROTOCOL
        await ws.send(json.dumps({"type": "connection_init"}))
        assert await next_message(ws) == {"type": "connection_ack", "connectionTimeoutMs": 300000}
        assert await subscribe(ws, "exact", "/calls/CA1", auth(feed, viewer)) == {
            "type": "subscribe_success",
            "id": "exact",
        }
        assert (await subscribe(ws, "all", "/calls/*", auth(feed, viewer)))["type"] == "subscribe_success"
        assert (await subscribe(ws, "live", "calls/live", auth(feed, viewer)))["type"] == "subscribe_success"

        events = [event(1), event(2, text="é ✓"), event(3)]
        answer = await asyncio.to_thread(signed_publish, feed.http_url, "/calls/CA1", events)
        assert answer.status_code == 200
        body = answer.json()
        assert body["failed"] == []
        assert [item["index"] for item in body["successful"]] == [0, 1, 2]
        received = [await next_message(ws) for _ in range(6)]
        for subscription in ("exact", "all"):
            mine = [m for m in received if m["id"] == subscription]
            assert [m["event"] for m in mine] == events  # the JSON strings as published, in order
            assert all(m["type"] == "data" for m in mine)

        await asyncio.to_thread(signed_publish, feed.http_url, "/calls/live", [event(4)])
        got = {(m["id"], m["event"]) for m in [await next_message(ws), await next_message(ws)]}
        assert got == {("all", event(4)), ("live", event(4))}  # never to /calls/CA1


async def test_keep_alives_arrive_on_a_quiet_connection(
    people_pool: UserPool, clock: Clock, viewer: Person
) -> None:
    with make_feed(people_pool, clock, keepalive_seconds=0.05) as quick:
        async with await open_feed(quick.realtime_url, quick.http_host, viewer.id_token) as ws:
            assert await next_message(ws, skip=()) == {"type": "ka"}


async def test_unsubscribe_stops_delivery(feed: AppSyncEventsStandIn, viewer: Person) -> None:
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        await subscribe(ws, "a", "/calls/CA1", auth(feed, viewer))
        await subscribe(ws, "b", "/calls/CA2", auth(feed, viewer))
        await ws.send(json.dumps({"type": "unsubscribe", "id": "a"}))
        assert await next_message(ws) == {"type": "unsubscribe_success", "id": "a"}
        await ws.send(json.dumps({"type": "unsubscribe", "id": "a"}))
        assert (await next_message(ws))["type"] == "unsubscribe_error"
        await asyncio.to_thread(signed_publish, feed.http_url, "/calls/CA1", [event(1)])
        await asyncio.to_thread(signed_publish, feed.http_url, "/calls/CA2", [event(2)])
        assert await next_message(ws) == {"type": "data", "id": "b", "event": event(2)}  # nothing for "a"


# ---- subscribe authorisation ---------------------------------------------------------------------


async def test_a_subscribe_needs_its_own_valid_token_with_the_viewers_group(
    feed: AppSyncEventsStandIn, viewer: Person, person: Callable[..., Person], clock: Clock
) -> None:
    outsider = person(SUPERVISORS)  # signed in, but no viewer
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        refusals = {
            "none": await subscribe(ws, "1", "/calls/live", None),
            "garbage": await subscribe(
                ws, "2", "/calls/live", {"host": feed.http_host, "Authorization": "x.y.z"}
            ),
            "group": await subscribe(ws, "3", "/calls/live", auth(feed, outsider)),
        }
        clock.offset = 7200  # both tokens expired (moto's last an hour)
        refusals["expired"] = await subscribe(ws, "4", "/calls/live", auth(feed, viewer))
        for reason, answer in refusals.items():
            assert answer["type"] == "subscribe_error", reason
            assert answer["errors"][0]["errorType"] == "UnauthorizedException", reason
        assert "callscribe-viewers" in refusals["group"]["errors"][0]["message"]
        assert "expired" in refusals["expired"]["errors"][0]["message"]
        await asyncio.to_thread(signed_publish, feed.http_url, "/calls/live", [event(1)])
        await ws.send(json.dumps({"type": "connection_init"}))
        assert (await next_message(ws))["type"] == "connection_ack"  # no data came before it


@pytest.mark.parametrize(
    "channel",
    ["/calls/a b", "/other/x", "/calls/*/x", "/*", "/calls/1/2/3/4/5", "", 7, "/calls/" + "x" * 51],
)
async def test_a_subscribe_to_a_channel_that_cannot_exist_is_refused(
    feed: AppSyncEventsStandIn, viewer: Person, channel: object
) -> None:
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        message = {"type": "subscribe", "id": "s", "channel": channel, "authorization": auth(feed, viewer)}
        await ws.send(json.dumps(message))
        answer = await next_message(ws)
        assert answer["type"] == "subscribe_error"
        assert answer["errors"][0]["errorType"] == "BadRequestException"


async def test_subscription_ids_are_unique_per_connection(feed: AppSyncEventsStandIn, viewer: Person) -> None:
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        assert (await subscribe(ws, "same", "/calls/live", auth(feed, viewer)))["type"] == "subscribe_success"
        assert (await subscribe(ws, "same", "/calls/CA1", auth(feed, viewer)))["type"] == "subscribe_error"
        assert (await subscribe(ws, "", "/calls/CA1", auth(feed, viewer)))["type"] == "subscribe_error"


async def test_other_messages_get_error_answers(feed: AppSyncEventsStandIn, viewer: Person) -> None:
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        await ws.send(json.dumps({"type": "publish", "id": "p", "channel": "/calls/live", "events": ["{}"]}))
        assert (await next_message(ws))["type"] == "publish_error"
        await ws.send("not json")
        assert (await next_message(ws))["type"] == "error"
        await ws.send(json.dumps({"type": "start", "id": "x"}))
        answer = await next_message(ws)
        assert answer["type"] == "error"
        assert answer["errors"][0]["errorType"] == "UnsupportedOperation"


# ---- connection authorisation --------------------------------------------------------------------


async def test_a_connection_with_a_bad_auth_header_gets_connection_error(
    feed: AppSyncEventsStandIn, viewer: Person
) -> None:
    headers = {
        "bad token": auth_protocol({"host": feed.http_host, "Authorization": "nope"}),
        "wrong host": auth_protocol({"host": "elsewhere:443", "Authorization": viewer.id_token}),
        "not base64 json": "header-%%%",
    }
    for reason, header in headers.items():
        async with raw_feed(feed.realtime_url, header) as ws:
            answer = await next_message(ws)
            assert answer["type"] == "connection_error", reason
            assert answer["errors"][0]["errorType"] == "UnauthorizedException", reason
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008


async def test_the_handshake_needs_the_events_subprotocol_and_path(feed: AppSyncEventsStandIn) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(feed.realtime_url):
            pass
    assert refused.value.response.status_code == 400
    with pytest.raises(InvalidStatus) as missing:
        async with connect(feed.realtime_url.replace("/event/realtime", "/graphql/realtime")):
            pass
    assert missing.value.response.status_code == 404


async def test_a_subscriber_that_stops_reading_is_dropped_without_holding_up_publishes(
    people_pool: UserPool, clock: Clock, viewer: Person
) -> None:
    with make_feed(people_pool, clock, outbox_limit=4) as small:
        # max_queue=1: this client stops reading at once; close_timeout: it cannot learn of the cut
        # while it is not reading, so its own close would wait the default 10 s for nothing
        reader = open_feed(
            small.realtime_url, small.http_host, viewer.id_token, max_queue=1, close_timeout=0.1
        )
        async with await reader as ws:
            await subscribe(ws, "s", "/calls/live", auth(small, viewer))
            big = json.dumps({"pad": "x" * 200_000})
            started = time.monotonic()
            for _ in range(250):  # up to ~50 MB: far more than any socket buffers hold
                answer = await asyncio.to_thread(signed_publish, small.http_url, "/calls/live", [big])
                assert answer.status_code == 200
                if small.subscribers == 0:
                    break
            assert small.subscribers == 0
            assert time.monotonic() - started < 30  # bounded by the publishes, not by the reader


# ---- HTTP publish refusals -----------------------------------------------------------------------


def test_unsigned_or_wrongly_signed_publishes_are_refused(feed: AppSyncEventsStandIn) -> None:
    body = json.dumps({"channel": "/calls/live", "events": [event(1)]})
    unsigned = httpx.post(
        f"{feed.http_url}/event", content=body, headers={"Content-Type": "application/json"}
    )
    wrong_secret = Credentials("testing", "not-the-secret", "testing")
    answers = {
        "unsigned": unsigned,
        "wrong secret": signed_publish(feed.http_url, "/calls/live", [event(1)], credentials=wrong_secret),
        "unknown key": signed_publish(
            feed.http_url, "/calls/live", [event(1)], credentials=Credentials("other", "testing", "testing")
        ),
        "other service": signed_publish(feed.http_url, "/calls/live", [event(1)], service="execute-api"),
        "other region": signed_publish(feed.http_url, "/calls/live", [event(1)], region="eu-west-1"),
        "body changed": signed_publish(feed.http_url, "/calls/live", [event(1)], tamper=True),
        "no session token": signed_publish(
            feed.http_url, "/calls/live", [event(1)], credentials=Credentials("testing", "testing")
        ),
    }
    for reason, answer in answers.items():
        assert answer.status_code == 401, reason
        assert answer.json()["errors"][0]["errorType"] == "UnauthorizedException", reason
    assert feed.published == 0
    assert feed.refused_publishes == len(answers)


@pytest.mark.parametrize(
    ("channel", "events"),
    [
        ("/calls/live", [event(n) for n in range(6)]),  # more than five
        ("/calls/live", []),
        ("/calls/live", ["not json"]),
        ("/calls/live", [{"type": "call"}]),  # an object, not a JSON string
        ("/calls/live", [json.dumps({"pad": "x" * 250_000})]),  # over 240 KB
        ("/calls/*", [event(1)]),  # publishing to a wildcard
        ("/nowhere/live", [event(1)]),  # no such namespace
    ],
)
def test_malformed_publishes_are_refused(
    feed: AppSyncEventsStandIn, channel: str, events: list[object]
) -> None:
    answer = signed_publish(feed.http_url, channel, events)  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["errorType"] == "BadRequestException"
    assert feed.published == 0
