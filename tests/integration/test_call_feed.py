"""The call feed end to end on local parts: writes to the calls table (moto, with its stream), the
stream polled into the call feed handler, published over SigV4 HTTP to the AppSync Events stand-in,
read by a subscriber over its WebSocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.credentials import ReadOnlyCredentials

from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.aws_local import LOCAL_REGION, LocalAws
from callscribe_local.table_stream import TableStreamPoller
from functions.call_feed.app import Tally, create_handler
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.records import CallParties, CallUpsert, StatusAdvance, StreamClaim
from shared.feed import LIVE_CHANNEL, call_channel
from shared.feed_publisher import FeedPublisher
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
T0, T1 = "2026-12-07T10:00:00.000Z", "2026-12-07T10:00:42.000Z"


@pytest.fixture
def call_feed(local_stack: LocalAws, feed: AppSyncEventsStandIn) -> Iterator[Tally]:
    tally = Tally()
    frozen: ReadOnlyCredentials = LOCAL_CREDENTIALS.get_frozen_credentials()
    publisher = FeedPublisher(feed.http_url, LOCAL_REGION, tally, credentials=lambda: frozen)
    publisher.start()
    poller = TableStreamPoller(local_stack.names.calls_table, create_handler(lambda: (publisher, tally)))
    with poller:
        yield tally
    publisher.stop()


Seen = list[tuple[str, dict[str, Any]]]


async def until(ws: Any, done: Callable[[Seen], bool]) -> Seen:
    """Messages (subscription, event) until `done` holds for what was read (each read bounded)."""
    received: Seen = []
    while not done(received):
        message = await next_message(ws)
        received.append((message["id"], json.loads(message["event"])))
    return received


def on_both(received: Seen, call_sid: str, status: str) -> bool:
    """`status` of `call_sid` arrived on the board and on the call's channel (two senders)."""
    return {
        sub for sub, event in received if event["callSid"] == call_sid and event.get("status") == status
    } == {
        "live",
        "call",
    }


@pytest.mark.usefixtures("call_feed")
async def test_status_changes_of_any_writer_reach_the_board_and_the_call(
    local_stack: LocalAws, feed: AppSyncEventsStandIn, viewer: Person
) -> None:
    table = local_stack.names.calls_table
    webhooks, stream = DynamoWebhookCalls(table), DynamoStreamCalls(table)
    call_sid, leg_sid = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    auth = {"host": feed.http_host, "Authorization": viewer.id_token}
    async with await open_feed(feed.realtime_url, feed.http_host, viewer.id_token) as ws:
        await subscribe(ws, "live", LIVE_CHANNEL, auth)
        await subscribe(ws, "call", call_channel(call_sid), auth)
        parties = CallParties(direction="inbound", from_number="+14155550100", to_number="+14155550199")

        def write_ringing() -> None:
            webhooks.upsert_call(CallUpsert(call_sid, parties, T0, route="forward"))
            webhooks.advance_status(StatusAdvance(call_sid=call_sid, status="ringing", rank=2, at=T0))

        await asyncio.to_thread(write_ringing)
        # two changes (the new record, then its status), each on both channels
        first = await until(ws, lambda seen: on_both(seen, call_sid, "ringing") and len(seen) >= 4)
        assert len(first) == 4
        ringing = [event for _, event in first if event.get("status") == "ringing"]
        assert all(event["route"] == "forward" and event["to"] == "+14155550199" for event in ringing)

        def write_rest() -> None:
            owner = uuid.uuid4().hex  # a stream claims the call: its transcript is in progress
            claim = StreamClaim(call_sid=call_sid, owner=owner, stream_sid="MZ" + owner, started_at=T0)
            assert stream.claim_stream(claim)
            stream.save_redaction_counts(call_sid, owner, {"CARD": 1})  # not shown on the board: no message
            webhooks.advance_status(
                StatusAdvance(call_sid=leg_sid, status="in-progress", rank=3, at=T0, parties=CallParties(
                    direction="outbound-dial", parent_call_sid=call_sid, to_number="+14155550111"))
            )  # fmt: skip
            webhooks.advance_status(
                StatusAdvance(
                    call_sid=call_sid, status="completed", rank=4, at=T1, ended_at=T1, duration_seconds=42
                )
            )

        await asyncio.to_thread(write_rest)
        rest = await until(ws, lambda seen: on_both(seen, call_sid, "completed") and len(seen) >= 5)
    # the transcript starting and the call's end, each on both channels, and the leg's status on the
    # call's channel: the redaction counts were not news
    assert len(rest) == 5
    assert {sub for sub, event in rest if event.get("transcriptStatus") == "in-progress"} == {"live", "call"}
    leg = [event for _, event in rest if event["callSid"] == leg_sid]
    assert [
        (subscription, event["parentCallSid"]) for subscription, event in rest if event["callSid"] == leg_sid
    ] == [("call", call_sid)]  # the leg: on its parent's channel only
    assert leg[0]["status"] == "in-progress"
    ended = [
        (sub, event)
        for sub, event in rest
        if event["callSid"] == call_sid and event.get("status") == "completed"
    ]
    assert {subscription for subscription, _ in ended} == {"live", "call"}
    for _, event in ended:
        assert (event["status"], event["endedAt"], event["durationSeconds"]) == ("completed", T1, 42)
