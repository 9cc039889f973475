"""What one connection may cost the task, on real sockets: connections that never `start` are not
calls, a stream whose media stops is ended, a stream far above Twilio's message rate is cut, and
none of it reaches another call. Limits are made small through settings; every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
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
from tests.support.twilio_media import FRAME_BYTES, TwilioMediaStream

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


# ---- one source cannot crowd out Twilio -------------------------------------------------------------
# Behind the load balancer (TRUSTED_PROXY_HOPS=1) the client address is the right-most entry of
# X-Forwarded-For, the one the load balancer appended; whatever a client wrote before it is its own.
ATTACKER = "203.0.113.7"
TWILIO = "198.51.100.20"
BEHIND_THE_ALB = {
    "TRUSTED_PROXY_HOPS": "1",
    "MAX_PENDING_STREAMS": "6",
    "MAX_PENDING_STREAMS_PER_ADDRESS": "3",
    "START_TIMEOUT_SECONDS": "30",
}


async def test_one_address_holding_its_cap_cannot_stop_another_address_s_call(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """Before: waiting connections had one bound for the whole task, so whoever held a leaked upgrade
    signature filled it from one address and every new call got 503 until they let go."""
    async with streamer_running(local_stack, deepgram.url, **BEHIND_THE_ALB) as server:
        held: list[TwilioMediaStream] = []
        status = None
        for _ in range(7):  # more than the whole task's bound
            stream = twilio_stream(server, _sid())
            try:
                await stream.open(forwarded_for=ATTACKER)
            except InvalidStatus as refused:
                status = refused.response.status_code
                break
            held.append(stream)
            await until(lambda: len(server.pending) == len(held))
        real = twilio_stream(server, call_sid)
        await real.open(forwarded_for=TWILIO)  # Twilio's call still starts
        await _one_call(real)
        assert (len(held), status) == (3, 429)  # the attacker had its own cap, not the task's
        await until(lambda: server.active_calls == 0)
        for stream in held:
            await stream.close()
        await wait_for_call_end(server)

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))


async def test_the_per_address_cap_counts_the_address_the_proxy_added_not_what_the_client_wrote(
    local_stack: LocalAws, deepgram: DeepgramStandIn
) -> None:
    """A client cannot escape its cap by writing other addresses, Twilio's included, into the
    X-Forwarded-For it sends: the load balancer appends the address it saw, and only that counts."""
    async with streamer_running(local_stack, deepgram.url, **BEHIND_THE_ALB) as server:
        held = [twilio_stream(server, _sid()) for _ in range(3)]
        for index, stream in enumerate(held):
            await stream.open(forwarded_for=f"192.0.2.{index}, {TWILIO}, {ATTACKER}")
        await until(lambda: len(server.pending) == 3)
        spoofing = twilio_stream(server, _sid())
        with pytest.raises(InvalidStatus) as refused:
            await spoofing.open(forwarded_for=f"{TWILIO}, {ATTACKER}")
        assert refused.value.response.status_code == 429
        assert b"too many streams waiting from this address" in refused.value.response.body
        # one slot freed at that address: accepted again
        await held[0].close()
        await until(lambda: len(server.pending) == 2)
        await spoofing.open(forwarded_for=ATTACKER)
        for stream in [*held[1:], spoofing]:
            await stream.close()
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


# ---- media that stops ------------------------------------------------------------------------------


async def test_a_stream_whose_media_stops_is_ended_and_its_transcript_finished_as_incomplete(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """Before: a stream that sent `start` and then nothing was never closed, and kept both of its
    Deepgram connections alive with KeepAlive for as long as the socket stayed open."""
    async with streamer_running(
        local_stack, deepgram.url, MEDIA_IDLE_TIMEOUT_SECONDS="0.6", DEEPGRAM_KEEPALIVE_SECONDS="0.2"
    ) as server:
        stream = twilio_stream(server, call_sid)
        await stream.open()
        await stream.start()
        await stream.play({"inbound": audio_for(WORDS), "outbound": audio_for(list(reversed(WORDS)))})
        # ... and then nothing: no media, no stop, the socket left open
        assert await _closed(stream) == 1008
        await wait_for_call_end(server)
        assert server._deps.metrics.totals["StreamTimeouts"] == 1

    # both Deepgram connections were finished (CloseStream, last finals) and closed
    assert len(deepgram.connections) == 2
    for connection in deepgram.connections:
        assert connection.control[-1] == "CloseStream"
        assert connection.close_code == 1000
    rows = as_rows(await segments(local_stack, call_sid))
    expected = expected_rows("inbound", "caller", blocks(WORDS)) + expected_rows(
        "outbound", "callee", blocks(list(reversed(WORDS)))
    )
    assert sorted(rows) == sorted(expected)
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "incomplete"
    assert record.transcript_error is not None
    assert "no media for 0.6 s" in record.transcript_error
    published = await events(bus_tap, call_sid, wait_seconds=15)
    assert [e["detail"]["transcriptStatus"] for e in published] == ["incomplete"]


async def test_a_short_pause_in_media_is_not_an_idle_stream(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    async with streamer_running(local_stack, deepgram.url, MEDIA_IDLE_TIMEOUT_SECONDS="2") as server:
        stream = twilio_stream(server, call_sid)
        await stream.open()
        await stream.start(tracks=("inbound",))
        next_ms = await stream.play({"inbound": audio_for(WORDS[:2])})
        # a network stall well inside the timeout: Twilio's frames then arrive late, all at once
        await asyncio.sleep(0.8)
        await stream.play({"inbound": audio_for(WORDS[2:])}, start_ms=next_ms)
        await stream.stop()
        await wait_for_call_end(server)
        assert server._deps.metrics.totals["StreamTimeouts"] == 0

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"


# ---- far above Twilio's rate -----------------------------------------------------------------------


async def test_a_flooding_stream_is_cut_and_another_call_still_completes(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """Before: nothing bounded one connection's message rate (10,000 a second took a fifth of a
    core and slowed every other call). Twilio sends 100 a second for both tracks."""
    flood_sid = _sid()
    async with streamer_running(local_stack, deepgram.url, MESSAGE_BURST="300") as server:
        flood, good = twilio_stream(server, flood_sid), twilio_stream(server, call_sid)
        await flood.open()
        await good.open()
        await flood.start(tracks=("inbound",))
        await until(lambda: server.active_calls == 1)

        async def flood_it() -> int:
            sent = 0
            with contextlib.suppress(ConnectionClosed):
                for index in range(20_000):
                    await flood.send_raw(flood.media_message("inbound", b"\xff" * FRAME_BYTES, index * 20))
                    sent += 1
            return sent

        sent, _ = await asyncio.gather(flood_it(), _one_call(good))
        assert await _closed(flood) == 1008
        await wait_for_call_end(server)
        totals = dict(server._deps.metrics.totals)

    assert sent < 20_000  # cut while still sending
    assert totals["StreamsRateLimited"] == 1
    flooded = await call_record(local_stack, flood_sid)
    assert flooded is not None
    assert flooded.transcript_status == "incomplete"
    assert flooded.transcript_error is not None
    assert "messages a second" in flooded.transcript_error
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))


async def test_a_burst_after_a_network_stall_is_not_a_flood(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """After a stall, TCP delivers Twilio's backlog at once: 100 messages a second of stall, both
    tracks. With the defaults (250 a second, burst 2000) 8 s of both tracks at once streams on."""
    words = ["whiskey", "xray", None, "yankee"] * 4  # 8 s
    async with streamer_running(local_stack, deepgram.url) as server:
        stream = twilio_stream(server, call_sid)
        await stream.open()
        await stream.start()
        frames = [  # every frame of both tracks, written in one go
            stream.media_message(track, audio[i : i + FRAME_BYTES], i // FRAME_BYTES * 20)
            for audio in (audio_for(words),)
            for i in range(0, len(audio), FRAME_BYTES)
            for track in ("inbound", "outbound")
        ]
        assert len(frames) == 800
        for frame in frames:
            await stream.send_raw(frame)
        await stream.stop()
        await wait_for_call_end(server)
        assert server._deps.metrics.totals["StreamsRateLimited"] == 0

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    stored = as_rows(await segments(local_stack, call_sid))
    expected = expected_rows("inbound", "caller", blocks(words)) + expected_rows(
        "outbound", "callee", blocks(words)
    )
    assert sorted(stored) == sorted(expected)
