"""One stream per call, on real sockets: a call's `start` (its stream token included) is good for one
stream, on any task, running or ended; a copy changes nothing and is never a call. And the sweeper
never ends the transcript of a stream that is alive.

Every copy here is what an attacker holding one call's TwiML could send: the same `start` (call SID,
stream SID, parameters and token) behind a correctly signed upgrade, with other audio. Before the
claim, each copy was accepted as a call: it overwrote the stored segments at the same stream times,
rewrote the counts, flipped the transcript status and published `Transcript Completed` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from typing import Any

import httpx
import pytest
from moto.dynamodb.models import DynamoDBBackend
from websockets.exceptions import ConnectionClosed

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from callscribe_local.dispatcher import LocalLambdaContext
from callscribe_local.twilio_rest import TwilioRestStandIn
from functions.sweeper import app as sweeper_app
from functions.sweeper.settings import SweeperSettings
from functions.webhooks.cdr import advance
from shared import clock
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.tables import calls_model, segments_model
from shared.status import CallStatus
from shared.status_changes import StatusChange
from streamer.server import StreamerServer
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.lambda_container import LambdaContainer
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`
from tests.support.moto_atomic import atomic_moto_updates  # noqa: F401 - provides the fixture
from tests.support.running_outbox import AnnouncedBusTap, running_outbox
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    as_rows,
    blocks,
    call_record,
    events,
    expected_rows,
    segments,
    streamer_running,
    twilio_stream,
    until,
    wait_for_call_end,
)
from tests.support.twilio_media import TwilioMediaStream

pytestmark = pytest.mark.integration

PARAMS = {"route": "forward", "direction": "inbound"}
WORDS = ["alpha", "bravo", None, "charlie"]
OTHER_WORDS = ["xray", "yankee", None, "zulu"]  # the copy's audio: the same stream times, other words


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


def copy_of(original: TwilioMediaStream, server: StreamerServer) -> TwilioMediaStream:
    """Another connection sending exactly the original's `start`."""
    copy = twilio_stream(server, original.call_sid)
    copy.stream_sid = original.stream_sid
    return copy


def close_code(stream: TwilioMediaStream) -> int | None:
    assert stream.ws is not None
    return stream.ws.close_code


async def refused(stream: TwilioMediaStream, words: list[str | None] = OTHER_WORDS) -> int | None:
    """Send a `start` and its audio as Twilio would, until the streamer closes; the close code."""
    with contextlib.suppress(ConnectionClosed):
        await stream.start(tracks=("inbound",), custom_parameters=PARAMS)
        await stream.play({"inbound": audio_for(words)})
        await stream.stop()
    async with asyncio.timeout(10):
        await stream.wait_closed()
    assert stream.ws is not None
    return stream.ws.close_code


async def snapshot(local: LocalAws, bus_tap: BusTap, call_sid: str) -> dict[str, Any]:
    record = await call_record(local, call_sid)
    assert record is not None
    return {
        "record": asdict(record),
        "segments": as_rows(await segments(local, call_sid)),
        "events": [(e["detail-type"], e["detail"]) for e in await events(bus_tap, call_sid, wait_seconds=2)],
    }


async def test_a_copy_of_an_ended_calls_start_changes_nothing(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """The finding, replayed: call X ends `incomplete` (its socket dropped without `stop`); then its
    `start` is sent again with other audio. Before: the stored segments were overwritten, and the
    call became `completed` with the old error still stored and a second `Transcript Completed`."""
    async with streamer_running(local_stack, deepgram.url) as server:
        original = twilio_stream(server, call_sid)
        await original.open()
        await original.start(tracks=("inbound",), custom_parameters=PARAMS)
        await original.play({"inbound": audio_for(WORDS)})
        await original.close()  # no `stop`: the transcript ends incomplete
        await wait_for_call_end(server)
        before = await snapshot(local_stack, bus_tap, call_sid)
        totals_before = dict(server._deps.metrics.totals)
        handshakes = deepgram.handshakes

        copy = copy_of(original, server)
        await copy.open()
        assert await refused(copy) == 1008
        await wait_for_call_end(server)
        totals = dict(server._deps.metrics.totals)

    assert before["record"]["transcript_status"] == "incomplete"
    assert before["segments"] == expected_rows("inbound", "caller", blocks(WORDS))
    assert [kind for kind, _ in before["events"]] == ["Transcript Completed"]
    assert await snapshot(local_stack, bus_tap, call_sid) == before  # segments, record, events: as they were
    assert deepgram.handshakes == handshakes  # the copy was never transcribed
    assert totals["StreamsRefused"] == totals_before["StreamsRefused"] + 1
    changed = {name for name in totals if name != "StreamsRefused" and totals[name] != totals_before[name]}
    assert changed == set()  # never a call: no frames, segments, failures counted for it


@pytest.mark.usefixtures("atomic_moto_updates")
async def test_three_copies_at_once_make_one_call_and_the_task_stays_ready(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """Before: all three were calls, filled MAX_CALLS=2 and turned /healthz 503 (in AWS the task is
    then replaced, cutting its real calls)."""
    async with (
        streamer_running(local_stack, deepgram.url, MAX_CALLS="2") as server,
        httpx.AsyncClient() as http,
    ):
        first = twilio_stream(server, call_sid)
        streams = [first, copy_of(first, server), copy_of(first, server)]
        for stream in streams:
            await stream.open()
        await asyncio.gather(*(s.start(tracks=("inbound",), custom_parameters=PARAMS) for s in streams))
        await until(lambda: server._deps.metrics.totals["StreamsRefused"] == 2)
        assert server.active_calls == 1
        health = await http.get(f"http://127.0.0.1:{server.port}/healthz")
        assert (health.status_code, health.text) == (200, "ok\n")  # one slot of two still free
        await until(lambda: sum(close_code(s) is not None for s in streams) == 2)
        assert sorted(close_code(s) or 0 for s in streams) == [0, 1008, 1008]
        (winner,) = (s for s in streams if close_code(s) is None)
        await winner.play({"inbound": audio_for(WORDS)})
        await winner.stop()
        await wait_for_call_end(server)

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert (record.transcript_status, record.segment_count, record.stream_sid) == (
        "completed",
        len(expected_rows("inbound", "caller", blocks(WORDS))),
        first.stream_sid,
    )
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))
    published = await events(bus_tap, call_sid, wait_seconds=5)
    assert [e["detail-type"] for e in published] == ["Transcript Completed"]


async def test_a_copy_on_another_task_is_refused_while_the_call_runs_and_after_it_ended(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """Two streamer tasks on one table: the claim on the call record is what they share."""
    async with (
        streamer_running(local_stack, deepgram.url) as task_a,
        streamer_running(local_stack, deepgram.url) as task_b,
    ):
        original = twilio_stream(task_a, call_sid)
        await original.open()
        await original.start(tracks=("inbound",), custom_parameters=PARAMS)
        await original.play({"inbound": audio_for(WORDS[:2])})
        await until(lambda: task_a.active_calls == 1)

        running = copy_of(original, task_b)
        await running.open()
        assert await refused(running) == 1008
        assert task_b.active_calls == 0

        await original.play({"inbound": audio_for(WORDS[2:])}, start_ms=1000)
        await original.stop()
        await wait_for_call_end(task_a)
        ended = copy_of(original, task_b)
        await ended.open()
        assert await refused(ended) == 1008
        await wait_for_call_end(task_b)
        refusals = task_b._deps.metrics.totals["StreamsRefused"]
        frames_on_b = task_b._deps.metrics.totals["FramesIn"]

    assert (refusals, frames_on_b) == (2, 0)
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert (record.transcript_status, record.transcript_error) == ("completed", None)
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))
    assert [e["detail-type"] for e in await events(bus_tap, call_sid, wait_seconds=5)] == [
        "Transcript Completed"
    ]


# ---- the claim's own outcomes ------------------------------------------------------------------------


@pytest.fixture
def slow_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB answering a stream's claim slowly (0.5 s): a stand-in's latency, nothing mocked above it."""
    original = DynamoDBBackend.update_item

    def update_item(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        if "stream_sid" in str(kwargs.get("expression_attribute_names")):  # only the claim sets it
            time.sleep(0.5)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)


@pytest.mark.usefixtures("slow_claims")
async def test_what_twilio_sends_while_the_claim_is_made_is_transcribed(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str, log_output: io.StringIO
) -> None:
    """The claim comes first, but the call's first words arrive with it: they are kept, not lost."""
    async with streamer_running(local_stack, deepgram.url) as server:
        stream = twilio_stream(server, call_sid)
        await stream.open()
        await stream.start(tracks=("inbound",), custom_parameters=PARAMS)
        await stream.play({"inbound": audio_for(WORDS)})  # all of it long before the claim answers
        await stream.stop()
        await wait_for_call_end(server)

    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    lines = log_output.getvalue().splitlines()
    started = next(json.loads(line) for line in lines if "stream started" in line)
    assert started["messages_kept_while_claiming"] == len(WORDS) * 25 + 1  # every frame, and the stop


async def test_a_call_record_that_cannot_be_claimed_closes_the_stream_unheard(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """The table unreachable (here: missing) through the claim's retries: closed 1011, never a call."""
    async with streamer_running(local_stack, deepgram.url, CALLS_TABLE="no-such-calls-table") as server:
        stream = twilio_stream(server, call_sid)
        await stream.open()
        assert await refused(stream, WORDS) == 1011
        await wait_for_call_end(server)
        totals = dict(server._deps.metrics.totals)

    assert (totals["StreamClaimFailures"], totals["StreamsRefused"], totals["FramesIn"]) == (1, 0, 0)
    assert deepgram.handshakes == 0
    assert await segments(local_stack, call_sid) == []
    assert await events(bus_tap, call_sid, wait_seconds=1) == []


async def test_a_claimed_stream_refused_at_the_hard_cap_ends_its_transcript_unheard(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn
) -> None:
    """Two calls' streams claim at once with room for one: the other, claimed but never a call, is
    closed 1013 and its transcript ended `incomplete` (announced: the recording fills it), not left
    `in-progress` for the sweeper."""
    async with streamer_running(local_stack, deepgram.url, MAX_CALLS="1", HARD_MAX_CALLS="1") as server:
        streams = [twilio_stream(server, "CA" + uuid.uuid4().hex) for _ in range(2)]
        for stream in streams:
            await stream.open()  # both wait for `start`: neither is a call yet
        await asyncio.gather(*(s.start(tracks=("inbound",), custom_parameters=PARAMS) for s in streams))
        await until(lambda: sum(close_code(s) is not None for s in streams) == 1)
        (cut,) = (s for s in streams if close_code(s) is not None)
        (kept,) = (s for s in streams if s is not cut)
        assert close_code(cut) == 1013
        await kept.play({"inbound": audio_for(WORDS)})
        await kept.stop()
        await wait_for_call_end(server)

    record = await call_record(local_stack, cut.call_sid)
    assert record is not None
    assert (record.transcript_status, record.segment_count) == ("incomplete", 0)
    assert record.transcript_error is not None
    assert "hard cap" in record.transcript_error
    published = await events(bus_tap, cut.call_sid, wait_seconds=3)
    assert [(e["detail-type"], e["detail"]["transcriptStatus"]) for e in published] == [
        ("Transcript Completed", "incomplete")
    ]
    kept_record = await call_record(local_stack, kept.call_sid)
    assert kept_record is not None
    assert kept_record.transcript_status == "completed"


# ---- the sweeper and a live stream -----------------------------------------------------------------


@pytest.fixture
def own_tables(local_stack: LocalAws) -> tuple[str, str]:
    """Tables of this test's own: a sweep with SWEEP_AFTER_SECONDS=0 would sweep every other test's
    calls in the session's tables."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"one-stream-calls-{suffix}", f"one-stream-transcripts-{suffix}")
    for model in (calls_model(names[0]), segments_model(names[1])):
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    return names


@pytest.fixture
def own_bus_tap(local_stack: LocalAws, own_tables: tuple[str, str]) -> Iterator[BusTap]:
    """The outbox on this test's own calls table (as the local stack runs it on its own), and a tap
    on the session's bus that reads once it has announced every write."""
    with running_outbox(
        own_tables[0], local_stack.names.event_bus_name, f"{own_tables[0]}-outbox-dlq"
    ) as outbox:
        yield AnnouncedBusTap(local_stack.names.event_bus_name, outbox)


@pytest.fixture
def twilio() -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def sweep(own_tables: tuple[str, str], twilio: TwilioRestStandIn) -> Any:
    """Runs of the sweeper Lambda's handler code on this test's tables; each run's keyword arguments
    are set in a new container's environment (a new sweeper service)."""
    env = {
        **os.environ,
        "CALLS_TABLE": own_tables[0],
        "TRANSCRIPTS_TABLE": own_tables[1],
        "SWEEP_AFTER_SECONDS": "0",  # as the local stack runs it
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.base_url,
        # these calls' status callbacks all arrived, and Twilio's bill is not this test's subject
        "SWEEP_PRICE_WINDOW_SECONDS": "0",
    }
    sweeper = LambdaContainer(
        lambda env: sweeper_app.build_service(SweeperSettings.from_env(env)), sweeper_app.create_handler, env
    )

    async def run(**changes: str) -> dict[str, Any]:
        sweeper.configure(**changes)
        event = {"id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events"}
        context = LocalLambdaContext(function_name="callscribe-sweeper")
        result: dict[str, Any] = await asyncio.to_thread(sweeper, event, context)
        return result

    return run


async def completed_while_streaming(local: LocalAws, calls_table: str, call_sid: str) -> None:
    """Twilio's `completed` status callback, arriving while the stream is still sending."""
    webhooks = DynamoWebhookCalls(calls_table)
    now = clock.now_iso()
    await asyncio.to_thread(advance, webhooks, StatusChange(call_sid, CallStatus.IN_PROGRESS, now))
    await asyncio.to_thread(
        advance, webhooks, StatusChange(call_sid, CallStatus.COMPLETED, clock.now_iso(), duration_seconds=3)
    )


async def test_the_sweeper_leaves_a_live_stream_s_transcript_and_ends_a_silent_one_once(
    local_stack: LocalAws,
    own_bus_tap: BusTap,
    deepgram: DeepgramStandIn,
    own_tables: tuple[str, str],
    sweep: Any,
) -> None:
    """Before: the sweeper finished the first call `incomplete` with the segments stored so far and
    announced it; the stream's own end then left `completed` with the sweeper's error stored and a
    second `Transcript Completed`. Now: a fresh heartbeat keeps the sweeper off; a stale one (here
    a staleness bound of 0) lets it end the transcript (its write announced by the outbox, not
    re-published by the sweeper), and the stream's own end then stores how it really ended, without
    the sweeper's error, and is not announced a second time."""
    alive, silent = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    tables = {"CALLS_TABLE": own_tables[0], "TRANSCRIPTS_TABLE": own_tables[1]}
    async with streamer_running(local_stack, deepgram.url, **tables) as server:
        streams = {sid: twilio_stream(server, sid) for sid in (alive, silent)}
        for stream in streams.values():
            await stream.open()
            await stream.start(tracks=("inbound",), custom_parameters=PARAMS)
            await stream.play({"inbound": audio_for(WORDS[:2])})
        await until(lambda: server.active_calls == 2)

        await completed_while_streaming(local_stack, own_tables[0], alive)
        first = await sweep()  # the default staleness bound (300 s): the claim's heartbeat is fresh
        assert (first["due"], first["waiting"], first["transcriptsFinished"]) == (1, 1, 0)

        await completed_while_streaming(local_stack, own_tables[0], silent)
        second = await sweep(STREAM_HEARTBEAT_STALE_SECONDS="0")  # every heartbeat is stale now
        assert (second["due"], second["transcriptsFinished"], second["transcriptCompletedRepublished"]) == (
            1,
            1,
            0,
        )
        swept = await call_record_in(local_stack, own_tables, silent)
        assert (swept["transcript_status"], swept["transcript_swept_at"] is not None) == ("incomplete", True)

        for stream in streams.values():  # both streams were alive all along: they end normally
            await stream.play({"inbound": audio_for(WORDS[2:])}, start_ms=1000)
            await stream.stop()
        await wait_for_call_end(server)

    heard = expected_rows("inbound", "caller", blocks(WORDS))
    for call_sid in (alive, silent):
        record = await call_record_in(local_stack, own_tables, call_sid)
        assert (record["transcript_status"], record["transcript_error"]) == ("completed", None)
        assert record["segment_count"] == len(heard)
    assert (await call_record_in(local_stack, own_tables, alive))["transcript_swept_at"] is None
    published = {sid: await events(own_bus_tap, sid, wait_seconds=3) for sid in (alive, silent)}
    assert sorted(announced(e) for e in published[alive]) == [
        ("Call Completed", "completed"),
        ("Transcript Completed", "completed"),
    ]
    # the silent stream's transcript was announced once: the sweeper's ending, which the summaries saw
    assert sorted(announced(e) for e in published[silent]) == [
        ("Call Completed", "completed"),
        ("Transcript Completed", "incomplete"),
    ]


def announced(event: dict[str, Any]) -> tuple[str, str]:
    """An event's type and the status it carries (the call's, or the transcript's)."""
    detail = event["detail"]
    return event["detail-type"], detail.get("transcriptStatus", detail.get("status"))


async def call_record_in(local: LocalAws, tables: tuple[str, str], call_sid: str) -> dict[str, Any]:
    record = await asyncio.to_thread(DynamoCallReader(tables[0]).get, call_sid)
    assert record is not None
    return asdict(record)
