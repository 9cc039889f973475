"""The streamer end to end on real sockets: Twilio-protocol client → streamer → Deepgram stand-in,
segments and CDR in moto, the event on the bus. Audio is sent faster than real time to stay quick."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from tests.conftest import TEST_AUTH_TOKEN
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
from tests.support.twilio_media import UNSIGNED, sign_stream

pytestmark = pytest.mark.integration


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


INBOUND = ["alpha", "bravo", None, "charlie", "delta", None]
OUTBOUND = [None, "echo", "foxtrot", None, None, "golf"]


async def test_both_tracks_stored_with_speakers_and_stream_time(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start()
        await twilio.play({"inbound": audio_for(INBOUND), "outbound": audio_for(OUTBOUND)})
        await twilio.stop()
        await wait_for_call_end(server)

    rows = as_rows(await segments(local_stack, call_sid))
    expected = expected_rows("inbound", "caller", blocks(INBOUND)) + expected_rows(
        "outbound", "callee", blocks(OUTBOUND)
    )
    assert sorted(rows, key=lambda r: (r[3], r[0])) == sorted(expected, key=lambda r: (r[3], r[0]))
    assert rows == sorted(rows, key=lambda r: (r[3], r[0]))  # the sort key orders by time, then track

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert record.segment_count == len(expected)
    assert record.transcript_completed_at
    assert record.stream_sid == twilio.stream_sid

    published = await events(bus_tap, call_sid, wait_seconds=15)
    assert [(e["detail-type"], e["detail"]["segmentCount"]) for e in published] == [
        ("Transcript Completed", len(expected))
    ]

    # one Deepgram connection per track, configured for Twilio audio, authenticated, all audio heard
    assert len(deepgram.connections) == 2
    for connection in deepgram.connections:
        assert connection.params["encoding"] == "mulaw"
        assert connection.params["sample_rate"] == "8000"
        assert connection.params["model"] == "nova-3"
        assert connection.control[-1] == "CloseStream"
        assert connection.close_code == 1000
    heard = sorted(bytes(c.received) for c in deepgram.connections)
    assert heard == sorted([audio_for(INBOUND), audio_for(OUTBOUND)])
    # what Deepgram billed: every track's audio it heard, summed (track-seconds); no agent, no TTS
    assert record.live_audio_seconds == (len(audio_for(INBOUND)) + len(audio_for(OUTBOUND))) / 8000
    assert record.tts_characters is None


async def test_a_calls_route_language_and_model_configure_its_deepgram_connections(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    words = ["kilo", "lima", None]
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(
            tracks=("inbound",), custom_parameters={"language": "es", "model": "nova-2-phonecall"}
        )
        await twilio.play({"inbound": audio_for(words)})
        await twilio.stop()
        await wait_for_call_end(server)

    [connection] = deepgram.connections
    assert (connection.params["language"], connection.params["model"]) == ("es", "nova-2-phonecall")
    stored = await segments(local_stack, call_sid)
    assert {(s.language, s.source) for s in stored} == {("es", "deepgram:nova-2-phonecall")}
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.stream_started_at is not None  # stream time 0, written once for the recordings tier


async def test_first_words_buffered_while_deepgram_is_slow_to_accept(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    deepgram.delay_handshakes(0.6)
    words = ["hotel", "india", "juliett", None]
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": audio_for(words)})  # all sent before Deepgram has accepted
        assert not deepgram.connections
        await twilio.stop()
        await wait_for_call_end(server)

    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(words))
    assert bytes(deepgram.connections[0].received) == audio_for(words)


@pytest.mark.parametrize("mode", ["abrupt", "net0000"])
async def test_drop_mid_stream_replays_unconfirmed_audio_in_stream_time_without_duplicates(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str, mode: str
) -> None:
    # The stream starts at media.timestamp 5000 ms; the inbound track has a 2 s hole in Twilio's
    # timestamps (longer than the silence fill: a new anchor), the outbound one a 0.5 s hole (filled).
    inbound = [
        "kilo",
        "lima",
        "mike",
        None,
        "november",
        "oscar",
        "papa",
        "quebec",
        None,
        "romeo",
        "sierra",
        None,
    ]
    outbound = [
        "tango",
        None,
        "uniform",
        "victor",
        "whiskey",
        "xray",
        None,
        "yankee",
        "zulu",
        None,
        "alpha",
        None,
    ]
    deepgram.drop_after_bytes(12000, mode=mode, connections=2)  # each track's first connection
    async with streamer_running(local_stack, deepgram.url, MAX_SILENCE_FILL_MS="1000") as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start()
        await twilio.play(
            {"inbound": audio_for(inbound[:6]), "outbound": audio_for(outbound[:6])},
            start_ms=5000,
            skip_ms={"inbound": (2000, 4000), "outbound": (1000, 1500)},
        )
        await deepgram.wait_until(lambda: sum(c.dropped for c in deepgram.connections) == 2)
        await twilio.play(
            {"inbound": audio_for(inbound[6:]), "outbound": audio_for(outbound[6:])},
            start_ms=8000,
            skip_ms={"inbound": (0, 1000)},
        )
        await twilio.stop()
        await wait_for_call_end(server)
        reconnects = server._deps.metrics.totals["DeepgramReconnects"]

    heard_inbound = [b for i, b in enumerate(blocks(inbound, 5.0)) if not 4 <= i < 8]  # hole: not heard
    heard_outbound = [(t, None if i in (2,) else w) for i, (t, w) in enumerate(blocks(outbound, 5.0))]
    expected = expected_rows("inbound", "caller", heard_inbound) + expected_rows(
        "outbound", "callee", heard_outbound
    )
    rows = as_rows(await segments(local_stack, call_sid))
    assert sorted(rows) == sorted(expected)
    assert reconnects >= 2

    dropped = [c for c in deepgram.connections if c.dropped]
    assert len(dropped) == 2
    assert len(deepgram.connections) == 4
    # each replacement connection started exactly at the end of a final result its track had stored:
    # its audio is a suffix of the track's audio, beginning on a final-result boundary
    heard_by_track = (
        audio_for([w for i, w in enumerate(inbound) if not 4 <= i < 8]),
        audio_for([None if i == 2 else w for i, w in enumerate(outbound)]),
    )
    for track_audio in heard_by_track:
        (first,) = [c for c in deepgram.connections[:2] if track_audio.startswith(bytes(c.received))]
        (second,) = [c for c in deepgram.connections[2:] if track_audio.endswith(bytes(c.received))]
        replay_from = len(track_audio) - len(second.received)
        # it starts where the last final result the streamer received ended (an abrupt reset may
        # have swallowed results in flight, so how far that is varies): never later than what the
        # dropped connection had heard, so nothing is skipped, and on a final-result boundary
        assert replay_from % 8000 == 0
        assert replay_from <= len(first.received)
        if mode == "net0000":  # a clean close delivers the results sent before it: those are not resent
            assert replay_from >= 8000

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.segment_count == len(expected)
    assert len(await events(bus_tap, call_sid, wait_seconds=15)) == 1
    # audio replayed after the drop was sent (and billed) again: what is recorded covers everything
    # Deepgram heard on all four connections, which covers both tracks whole
    assert record.live_audio_seconds is not None
    heard_bytes = sum(len(c.received) for c in deepgram.connections)
    tracks_bytes = sum(len(track_audio) for track_audio in heard_by_track)
    assert round(record.live_audio_seconds * 8000) >= heard_bytes >= tracks_bytes


async def test_handshake_5xx_is_retried_until_deepgram_accepts(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    deepgram.refuse_next(3, status=503)
    words = ["bravo", "charlie", None, "delta"]
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": audio_for(words)})
        await twilio.stop()
        await wait_for_call_end(server)

    assert deepgram.refused == [503, 503, 503]
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(words))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"


async def test_audio_deepgram_never_confirmed_marks_the_transcript_incomplete(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    # Deepgram drops mid-call and every reconnect's handshake hangs past hang-up, so the unconfirmed
    # audio is still unheard when the (1 s) finalize window closes.
    async with streamer_running(local_stack, deepgram.url, DEEPGRAM_FINALIZE_TIMEOUT_SECONDS="1") as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        end = await twilio.play({"inbound": audio_for(["alpha", "bravo"])})
        await until(lambda: len(deepgram.connections) == 1)
        deepgram.delay_handshakes(4)
        await deepgram.drop_all()
        await twilio.play({"inbound": audio_for(["charlie", "delta"])}, start_ms=end)
        await twilio.stop()
        await wait_for_call_end(server)

    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "incomplete"
    assert record.transcript_error is not None
    assert "never transcribed" in record.transcript_error
    published = await events(bus_tap, call_sid, wait_seconds=15)
    assert [e["detail"]["transcriptStatus"] for e in published] == ["incomplete"]


@pytest.mark.parametrize("status", [401, 402, 403])
async def test_refused_key_marks_transcript_failed_and_the_call_goes_on(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str, status: int
) -> None:
    deepgram.answer_all(status)
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start()
        await twilio.play({"inbound": audio_for(["alpha", "bravo"]), "outbound": audio_for(["charlie"])})
        await deepgram.wait_until(lambda: len(deepgram.refused) >= 2)
        record = None
        async with asyncio.timeout(15):
            while record is None or record.transcript_status != "failed":
                await asyncio.sleep(0.02)
                record = await call_record(local_stack, call_sid)
        # the call itself continues: Twilio keeps streaming and the socket stays open
        end = await twilio.play({"inbound": audio_for(["delta"] * 4)}, start_ms=1000)
        await twilio.media("inbound", b"\xff" * 160, end)
        assert twilio.ws is not None
        assert twilio.ws.close_code is None
        async with httpx.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{server.port}/healthz")
        assert health.status_code == 200
        await twilio.stop()
        await wait_for_call_end(server)

    assert deepgram.refused == [status, status]  # one attempt per track: terminal, no retry storm
    assert deepgram.connections == []
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "failed"
    assert record.transcript_error is not None
    assert str(status) in record.transcript_error
    assert await segments(local_stack, call_sid) == []
    published = await events(bus_tap, call_sid, wait_seconds=15)
    assert [(e["detail"]["segmentCount"], e["detail"]["transcriptStatus"]) for e in published] == [
        (0, "failed")
    ]


async def test_bad_frames_are_counted_and_skipped_and_other_calls_are_untouched(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    other_sid = call_sid[:-4] + "beef"
    bad_words, good_words = ["echo", None, "golf", None], ["hotel", "india", None, "kilo"]
    async with streamer_running(local_stack, deepgram.url) as server:
        bad, good = twilio_stream(server, call_sid), twilio_stream(server, other_sid)
        await bad.open()
        await good.open()
        await bad.start(tracks=("inbound",))
        await good.start(tracks=("inbound",))
        garbage: list[str | bytes] = [
            "this is not json",
            "[1, 2, 3]",
            json.dumps({"event": "media", "media": {"track": "inbound", "timestamp": "0", "payload": "!!!"}}),
            json.dumps(
                {"event": "media", "media": {"track": "sideways", "timestamp": "0", "payload": "/w=="}}
            ),
            json.dumps(
                {"event": "media", "media": {"track": "inbound", "timestamp": "soon", "payload": "/w=="}}
            ),
            json.dumps({"event": "media"}),
            json.dumps({"event": "telepathy", "streamSid": bad.stream_sid}),
            b"\x00\x01binary junk",
        ]
        for junk in garbage:
            await bad.send_raw(junk)
        await bad.play({"inbound": audio_for(bad_words)})
        await good.play({"inbound": audio_for(good_words)})
        await bad.dtmf("5")
        await bad.stop()
        await good.stop()
        await wait_for_call_end(server)
        totals = server._deps.metrics.totals

    assert totals["BadMessages"] == len(garbage)
    assert totals["FramesDropped"] == 4  # the malformed media frames
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows(
        "inbound", "caller", blocks(bad_words)
    )
    assert as_rows(await segments(local_stack, other_sid)) == expected_rows(
        "inbound", "caller", blocks(good_words)
    )


async def test_oversized_message_is_refused_and_what_came_before_is_stored_as_incomplete(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    words = ["lima", "mike", "november", None]
    async with streamer_running(local_stack, deepgram.url, MAX_MESSAGE_BYTES="2048") as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": audio_for(words)})
        await twilio.send_raw(json.dumps({"event": "mark", "mark": {"name": "x" * 4096}}))
        await twilio.wait_closed()
        assert twilio.ws is not None
        assert twilio.ws.close_code == 1009
        await wait_for_call_end(server)  # no stop: the socket closing ends the call just the same

    # what was heard before the cut is stored, but the stream ended abnormally: the rest of the
    # call was never heard, so the transcript does not pass for whole
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(words))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "incomplete"
    assert record.transcript_error is not None
    assert "MAX_MESSAGE_BYTES" in record.transcript_error
    assert "1009" in record.transcript_error
    published = await events(bus_tap, call_sid, wait_seconds=15)
    assert [e["detail"]["transcriptStatus"] for e in published] == ["incomplete"]


@pytest.mark.parametrize("close_code", [1000, 1011])
async def test_a_socket_closed_without_stop_leaves_the_transcript_incomplete(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str, close_code: int
) -> None:
    words = ["oscar", "papa", None]
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": audio_for(words)})
        assert twilio.ws is not None
        await twilio.ws.close(close_code)  # Twilio always sends `stop` first
        await wait_for_call_end(server)

    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(words))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "incomplete"
    assert record.transcript_error == f"stream closed without Twilio's stop (close code {close_code})"


async def test_capacity_health_not_ready_at_max_calls_and_503_beyond_hard_cap(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    async with (
        streamer_running(local_stack, deepgram.url, MAX_CALLS="1", HARD_MAX_CALLS="2") as server,
        httpx.AsyncClient() as http,
    ):
        health_url = f"http://127.0.0.1:{server.port}/healthz"
        assert (await http.get(health_url)).status_code == 200
        first, second = twilio_stream(server, call_sid), twilio_stream(server, call_sid[:-4] + "0002")
        await first.open()
        await first.start(tracks=("inbound",))
        await until(lambda: server.active_calls == 1)
        not_ready = await http.get(health_url)
        assert (not_ready.status_code, not_ready.text) == (503, "at capacity\n")
        await second.open()  # between MAX_CALLS and the hard cap: still served
        await second.start(tracks=("inbound",))
        await until(lambda: server.active_calls == 2)
        third = twilio_stream(server, call_sid[:-4] + "0003")
        with pytest.raises(InvalidStatus) as refused:
            await third.open()
        assert refused.value.response.status_code == 503
        for stream in (first, second):
            await stream.stop()
        await wait_for_call_end(server)
        assert (await http.get(health_url)).status_code == 200


@pytest.mark.parametrize("signature", ["forged", "unsigned", "other-url"])
async def test_unsigned_or_forged_upgrade_is_refused_before_deepgram_sees_anything(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str, signature: str
) -> None:
    async with streamer_running(local_stack, deepgram.url) as server:
        twilio = twilio_stream(server, call_sid)
        header = {
            "forged": "bm90IGEgc2lnbmF0dXJl",
            "unsigned": UNSIGNED,
            "other-url": sign_stream(TEST_AUTH_TOKEN, "wss://attacker.example/media"),
        }[signature]
        with pytest.raises(InvalidStatus) as refused:
            await twilio.open(signature=header)
        assert refused.value.response.status_code == 403
        assert server.active_calls == 0
    assert deepgram.handshakes == 0
    assert await call_record(local_stack, call_sid) is None


async def test_unknown_path_is_404_and_health_is_plain_http(
    local_stack: LocalAws, deepgram: DeepgramStandIn
) -> None:
    async with streamer_running(local_stack, deepgram.url) as server, httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{server.port}/nope")).status_code == 404
        health = await http.get(f"http://127.0.0.1:{server.port}/healthz")
        assert (health.status_code, health.text) == (200, "ok\n")


async def test_keepalive_holds_the_deepgram_connection_through_silence_on_the_wire(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    deepgram.idle_timeout = 1.0  # Deepgram closes 1011 NET-0001 after this long without a frame
    async with streamer_running(local_stack, deepgram.url, DEEPGRAM_KEEPALIVE_SECONDS="0.25") as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        next_ms = await twilio.play({"inbound": audio_for(["oscar", "papa"])})
        await deepgram.wait_until(
            lambda: deepgram.connections and "KeepAlive" in deepgram.connections[0].control
        )
        await asyncio.sleep(1.5)  # no media from Twilio (e.g. the call is on hold at the far end)
        await twilio.play({"inbound": audio_for(["quebec", "romeo"])}, start_ms=next_ms)
        await twilio.stop()
        await wait_for_call_end(server)

    assert len(deepgram.connections) == 1
    assert deepgram.connections[0].close_code == 1000
    assert deepgram.connections[0].control.count("KeepAlive") >= 2
    expected = expected_rows("inbound", "caller", blocks(["oscar", "papa", "quebec", "romeo"]))
    assert as_rows(await segments(local_stack, call_sid)) == expected


async def test_calls_still_running_when_the_drain_window_ends_are_finished_properly(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    words = ["sierra", "tango", None, "uniform"]
    async with streamer_running(local_stack, deepgram.url, DRAIN_SECONDS="0.3") as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.start(tracks=("inbound",))
        await twilio.play({"inbound": audio_for(words)})
        await deepgram.wait_until(lambda: len(deepgram.connections) == 1)
        # leaving the context drains: the call never ends by itself, so the window runs out
    await twilio.wait_closed()
    assert twilio.ws is not None
    assert twilio.ws.close_code == 1001
    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(words))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert len(await events(bus_tap, call_sid, wait_seconds=15)) == 1


async def test_a_stream_that_never_starts_is_closed_without_touching_deepgram(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    async with streamer_running(local_stack, deepgram.url, START_TIMEOUT_SECONDS="0.3") as server:
        twilio = twilio_stream(server, call_sid)
        await twilio.open()
        await twilio.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await twilio.media("inbound", b"\xff" * 160, 0)  # media before start: skipped
        await twilio.wait_closed()
        assert twilio.ws is not None
        assert twilio.ws.close_code == 1008
        assert server._deps.metrics.totals["BadMessages"] == 1
        assert server._deps.metrics.totals["StreamTimeouts"] == 1
        assert server.active_calls == 0  # it never was a call
    assert deepgram.handshakes == 0
    assert await call_record(local_stack, call_sid) is None
