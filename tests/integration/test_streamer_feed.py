"""The streamer publishes to the live feed: each final segment once stored, redacted as stored, with its
sort key as `segmentId`, on the call's channel; its transcript status changes on `/calls/live` and the
call's channel. Real sockets end to end: Twilio's stream in, moto, the AppSync Events stand-in (SigV4
over HTTP), a subscriber over its WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.aws_local import LOCAL_REGION, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from shared.feed import LIVE_CHANNEL, call_channel
from streamer.contract import FEED_EVENTS_PUBLISHED, FEED_PUBLISH_FAILURES
from tests.support.feed_wire import (  # noqa: F401 - fixtures
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
from tests.support.phrase_recognizer import PhraseBook
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    segments,
    streamer_running,
    twilio_stream,
    until,
    wait_for_call_end,
)

pytestmark = pytest.mark.integration

CARD = "my card is 4111 1111 1111 1111"
BOOK = PhraseBook("hello there", CARD, "thanks bye")
SPOKEN = ["hello there", None, CARD, None, "thanks bye", None]


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(BOOK.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


async def test_stored_segments_and_transcript_status_reach_subscribers(
    local_stack: LocalAws,
    deepgram: DeepgramStandIn,
    feed: AppSyncEventsStandIn,
    viewer: Person,
    call_sid: str,
) -> None:
    auth = {"host": feed.http_host, "Authorization": viewer.id_token}
    env = {"FEED_HTTP_URL": feed.http_url, "FEED_REGION": LOCAL_REGION}
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        assert (await subscribe(ws, "call", call_channel(call_sid), auth))["type"] == "subscribe_success"
        assert (await subscribe(ws, "live", LIVE_CHANNEL, auth))["type"] == "subscribe_success"
        async with streamer_running(local_stack, deepgram.url, **env) as server:
            twilio = twilio_stream(server, call_sid)
            await twilio.open()
            await twilio.start(tracks=("inbound",))
            first = await next_message(ws)  # the transcript started: before any audio is heard
            await twilio.play({"inbound": BOOK.audio_for(SPOKEN)})
            await twilio.stop()
            await wait_for_call_end(server)
            received = [first]
            # the two channels go through different senders: wait for the end on both
            while not all(any(_is_final(m) for m in received if m["id"] == sub) for sub in ("call", "live")):
                received.append(await next_message(ws))
            counters = server._deps.metrics.totals
            # the sender counts a publish once AppSync answered it, after subscribers may have it
            await until(lambda: counters[FEED_EVENTS_PUBLISHED] == len(received))  # each event once
            stored = await segments(local_stack, call_sid)

    by_channel: dict[str, list[dict[str, Any]]] = {"call": [], "live": []}
    for message in received:
        by_channel[message["id"]].append(json.loads(message["event"]))
    call_messages = [m for m in by_channel["call"] if m["type"] == "call"]
    # two writer threads store batches side by side, and each batch is published once stored: the
    # feed's order is the order of the writes, so a client orders by start (segmentId sorts so too)
    segment_messages = sorted(
        (m for m in by_channel["call"] if m["type"] == "segment"), key=lambda m: m["segmentId"]
    )

    assert [s.text for s in stored] == ["hello there", "my card is [REDACTED CARD]", "thanks bye"]
    assert segment_messages == [
        {
            "type": "segment",
            "callSid": call_sid,
            "segmentId": s.segment_key,
            "track": s.track,
            "speaker": s.speaker,
            "start": s.start,
            "end": s.end,
            "text": s.text,  # redacted as stored: the digits never reach the feed
            "source": "live",
        }
        for s in stored
    ]
    assert [(m.get("status"), m["transcriptStatus"]) for m in call_messages] == [
        ("in-progress", "in-progress"),
        (None, "completed"),
    ]
    assert by_channel["call"][-1]["type"] == "call"  # the transcript's end follows every segment
    assert [m["transcriptStatus"] for m in by_channel["live"]] == ["in-progress", "completed"]
    assert all(m["type"] == "call" for m in by_channel["live"])  # segments only on the call's channel
    assert "4111" not in json.dumps(received)
    assert counters[FEED_EVENTS_PUBLISHED] == len(segment_messages) + 4
    assert counters[FEED_PUBLISH_FAILURES] == 0


def _is_final(message: dict[str, Any]) -> bool:
    body = json.loads(message["event"])
    return body["type"] == "call" and body.get("transcriptStatus") == "completed"


async def test_a_segment_is_in_the_table_when_its_event_arrives(
    local_stack: LocalAws,
    deepgram: DeepgramStandIn,
    feed: AppSyncEventsStandIn,
    viewer: Person,
    call_sid: str,
) -> None:
    auth = {"host": feed.http_host, "Authorization": viewer.id_token}
    env = {"FEED_HTTP_URL": feed.http_url, "FEED_REGION": LOCAL_REGION}
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        await subscribe(ws, "call", call_channel(call_sid), auth)
        async with streamer_running(local_stack, deepgram.url, **env) as server:
            twilio = twilio_stream(server, call_sid)
            await twilio.open()
            await twilio.start(tracks=("inbound",))
            playing = asyncio.create_task(twilio.play({"inbound": BOOK.audio_for(SPOKEN)}))
            try:
                while (body := json.loads((await next_message(ws))["event"]))["type"] != "segment":
                    pass
                keys = {s.segment_key for s in await segments(local_stack, call_sid)}
                assert body["segmentId"] in keys  # stored first, then published
            finally:
                await playing
                await twilio.stop()
                await wait_for_call_end(server)


async def test_without_a_feed_url_nothing_is_published(
    local_stack: LocalAws, deepgram: DeepgramStandIn, feed: AppSyncEventsStandIn, call_sid: str
) -> None:
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": BOOK.audio_for(SPOKEN[:2])})
        await twilio.stop()
        await wait_for_call_end(server)
        totals = server._deps.metrics.totals
    assert len(await segments(local_stack, call_sid)) == 1
    assert totals[FEED_EVENTS_PUBLISHED] == 0
    assert feed.published == 0
