"""What one connection may cost the task, on real sockets: connections that never `start` are not
calls and none of it reaches another call. Limits are made small through settings; every wait is
bounded."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callscribe_local.aws_local import LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    as_rows,
    blocks,
    call_record,
    expected_rows,
    segments,
    streamer_running,
    twilio_stream,
    until,
    wait_for_call_end,
)
from tests.support.twilio_media import TwilioMediaStream

pytestmark = pytest.mark.integration

WORDS = ["tango", "uniform", None, "victor"]


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


async def _closed(stream: TwilioMediaStream, within: float = 10.0) -> int | None:
    async with asyncio.timeout(within):
        await stream.wait_closed()
    assert stream.ws is not None
    return stream.ws.close_code


async def _one_call(stream: TwilioMediaStream, words: list[str | None] = WORDS) -> None:
    await stream.start(tracks=("inbound",))
    await stream.play({"inbound": audio_for(words)})
    await stream.stop()


# ---- connections that never start ------------------------------------------------------------------


async def test_upgrades_waiting_for_start_are_not_calls_and_never_make_the_task_look_full(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """Before: every upgraded connection counted toward MAX_CALLS, so a few idle replays of the
    (shared) upgrade signature made /healthz 503 (ECS then replaces the task, cutting its calls)
    and got real calls refused."""
    limits = {
        "MAX_CALLS": "1",
        "HARD_MAX_CALLS": "1",
        "MAX_PENDING_STREAMS": "10",
        "START_TIMEOUT_SECONDS": "30",
    }
    async with (
        streamer_running(local_stack, deepgram.url, **limits) as server,
        httpx.AsyncClient() as http,
    ):
        health = f"http://127.0.0.1:{server.port}/healthz"
        idle = [twilio_stream(server, _sid()) for _ in range(6)]
        for stream in idle:
            await stream.open()  # signed, and then nothing
        real = twilio_stream(server, call_sid)
        await real.open()
        await real.start(tracks=("inbound",))
        await until(lambda: server.active_calls == 1)  # the real call, and only it, is a call
        assert len(server.pending) == 6
        answer = await http.get(health)
        assert (answer.status_code, answer.text) == (503, "at capacity\n")  # one real call: MAX_CALLS
        await real.play({"inbound": audio_for(WORDS)})
        await real.stop()
        await until(lambda: server.active_calls == 0)
        assert (await http.get(health)).status_code == 200  # six connections still waiting: ready
        for stream in idle:
            await stream.close()
        await wait_for_call_end(server)

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))


async def test_connections_waiting_for_start_have_their_own_bound_which_spares_health(
    local_stack: LocalAws, deepgram: DeepgramStandIn
) -> None:
    async with (
        streamer_running(local_stack, deepgram.url, MAX_PENDING_STREAMS="2") as server,
        httpx.AsyncClient() as http,
    ):
        health = f"http://127.0.0.1:{server.port}/healthz"
        first, second, third = (twilio_stream(server, _sid()) for _ in range(3))
        await first.open()
        await second.open()
        await until(lambda: len(server.pending) == 2)
        with pytest.raises(InvalidStatus) as refused:
            await third.open()
        assert refused.value.response.status_code == 503
        assert (await http.get(health)).status_code == 200  # the bound is not "at capacity"
        await first.close()
        await until(lambda: len(server.pending) == 1)
        await third.open()  # a slot freed: accepted again
        await second.close()
        await third.close()
        await wait_for_call_end(server)
        await until(lambda: not server.pending)


async def test_a_connection_sending_anything_but_start_is_refused_without_waiting(
    local_stack: LocalAws, deepgram: DeepgramStandIn
) -> None:
    """Twilio sends `connected` then `start`; a connection still sending something else after a few
    messages is closed then, not parsed until START_TIMEOUT_SECONDS."""
    async with streamer_running(local_stack, deepgram.url, START_TIMEOUT_SECONDS="60") as server:
        stream = twilio_stream(server, _sid())
        await stream.open()
        with contextlib.suppress(ConnectionClosed):
            for _ in range(20):
                await stream.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        assert await _closed(stream, within=5) == 1008
        await until(lambda: not server.pending)
        assert server._deps.metrics.totals["StreamsRefused"] == 1
    assert deepgram.handshakes == 0
