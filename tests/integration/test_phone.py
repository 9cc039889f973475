"""The simulated phone speaks Twilio's protocols: checked by the product's own signature code.

A real local API Gateway (callscribe_local.apigw) fronts a tiny webhook handler that verifies every
request with `shared.signatures` and answers TwiML; a real WebSocket server on port 0 verifies the
upgrade signature and records the Media Streams messages. No product tables are involved, so this
is about the phone alone: parameters, signing, TwiML reading, message shapes and pacing counters.
"""

from __future__ import annotations

import base64
import json
import math
import time
import wave
from collections.abc import AsyncIterator
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from callscribe_local import g711
from callscribe_local.apigw import LocalApiGateway
from callscribe_local.phone import (
    Conversation,
    PhoneError,
    SimulatedPhone,
    align_tracks,
    load_audio,
    load_tracks,
    parse_twiml,
    rfc2822,
)
from callscribe_local.twilio_rest import TwilioRestStandIn
from callscribe_local.wavfile import WAVE_FORMAT_PCM, read_wav
from shared.clock import parse_rfc2822
from shared.signatures import FormParams, verify_api_gateway_event, verify_stream_upgrade

pytestmark = pytest.mark.integration

TOKEN = "phone-test-token-0123456789abcdef"
ACCOUNT = "AC" + "2" * 32


class TwilioSide:
    """Webhook handler + stream server that check what a real Twilio client would have sent."""

    def __init__(self) -> None:
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.messages: list[dict[str, Any]] = []
        self.stream_url = ""
        self.api_url = ""
        self.refuse_upgrade = False
        self.drop_after_media: int | None = None  # the stream's server dies after this many media
        self.after_stream = (
            '<Dial record="record-from-answer-dual" recordingStatusCallback="recording">'
            "<Number>+14155550199</Number></Dial>"
        )

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        form = FormParams.parse(event["body"], is_base64=event["isBase64Encoded"])
        if not verify_api_gateway_event(event, form, TOKEN, self.api_url):
            return {"statusCode": 403, "body": "bad signature"}
        self.forms.append((event["path"], dict(form)))
        if event["path"] == "/twilio/voice":
            twiml = (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Start>'
                f'<Stream url="{self.stream_url}" track="both_tracks">'
                '<Parameter name="callSid" value="x"/><Parameter name="route" value="forward"/>'
                f"</Stream></Start>{self.after_stream}</Response>"
            )
            return {"statusCode": 200, "headers": {"Content-Type": "text/xml"}, "body": twiml}
        return {"statusCode": 204, "body": ""}

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse_upgrade or not verify_stream_upgrade(self.stream_url, request.headers, TOKEN):
            return connection.respond(HTTPStatus.FORBIDDEN, "forbidden\n")
        return None

    async def receive(self, ws: ServerConnection) -> None:
        async for message in ws:
            self.messages.append(json.loads(message))
            media = sum(1 for m in self.messages if m["event"] == "media")
            if self.drop_after_media is not None and media >= self.drop_after_media:
                ws.transport.abort()  # as a killed process: no close frame, the socket just goes
                return


@pytest.fixture
async def twilio_side() -> AsyncIterator[TwilioSide]:
    side = TwilioSide()
    async with serve(side.receive, "127.0.0.1", 0, process_request=side.process_request) as server:
        port = server.sockets[0].getsockname()[1]
        side.stream_url = f"ws://127.0.0.1:{port}/media"
        with LocalApiGateway(side.handler, stage="local") as gateway:
            side.api_url = gateway.url
            yield side


def _conversation(seconds: float) -> Conversation:
    frames = math.ceil(seconds * 8000 / 160)
    return Conversation.from_audio(bytes([0x10]) * 160 * frames, bytes([0x20]) * 160 * (frames // 2))


async def test_a_call_as_twilio_places_it(twilio_side: TwilioSide) -> None:
    phone = SimulatedPhone(twilio_side.api_url, TOKEN, ACCOUNT, speed=50.0, out_of_order=True)
    conversation = _conversation(1.0)

    result = await phone.call(conversation)
    assert result.lead_in_seconds == phone.ring_seconds == 2.37  # the <Dial>ed party rings first
    streamed = conversation.delayed(result.lead_in_seconds)

    # Every webhook verified (else 403) and in Twilio's order of delivery, out of order on purpose.
    paths = [(path, form.get("CallStatus", form.get("RecordingStatus"))) for path, form in twilio_side.forms]
    assert paths == [
        ("/twilio/status", "initiated"),
        ("/twilio/status", "ringing"),
        ("/twilio/voice", "ringing"),
        ("/twilio/status", "completed"),
        ("/twilio/status", "in-progress"),
        ("/twilio/status", "ringing"),
        ("/twilio/recording", "completed"),
    ]
    voice = twilio_side.forms[2][1]
    assert voice["CallSid"] == result.call_sid
    assert voice["AccountSid"] == ACCOUNT
    assert voice["Direction"] == "inbound"
    assert voice["ApiVersion"] == "2010-04-01"
    assert voice["ToZip"] == ""  # blank values are signed and delivered
    statuses = {form["CallStatus"]: form for path, form in twilio_side.forms[3:6]}
    assert [statuses[s]["SequenceNumber"] for s in ("in-progress", "completed")] == ["2", "3"]
    assert statuses["completed"]["CallDuration"] == "3"  # 2.37 s ringing + 1 s of conversation
    assert parse_rfc2822(statuses["completed"]["Timestamp"]) is not None
    recording = twilio_side.forms[6][1]
    assert recording["RecordingSid"].startswith("RE")
    assert recording["RecordingChannels"] == "2"

    # The stream: connected, start (with the TwiML's parameters), media per track, stop.
    events = [m["event"] for m in twilio_side.messages]
    frames = len(streamed.inbound) // 160
    assert events == ["connected", "start"] + ["media"] * (2 * frames) + ["stop"]
    start = twilio_side.messages[1]
    assert start["start"]["customParameters"] == {"callSid": "x", "route": "forward"}
    assert start["start"]["tracks"] == ["inbound", "outbound"]
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    media = twilio_side.messages[2:-1]
    assert [m["sequenceNumber"] for m in media] == [str(n) for n in range(2, 2 + len(media))]
    inbound = [m["media"] for m in media if m["media"]["track"] == "inbound"]
    outbound = [m["media"] for m in media if m["media"]["track"] == "outbound"]
    assert [m["chunk"] for m in inbound] == [str(n) for n in range(1, frames + 1)]
    assert [m["timestamp"] for m in outbound] == [str(20 * n) for n in range(frames)]
    assert all(len(base64.b64decode(m["payload"])) == 160 for m in inbound + outbound)
    assert base64.b64decode(outbound[-1]["payload"]) == b"\xff" * 160  # padded with mu-law silence
    assert twilio_side.messages[-1]["stop"]["callSid"] == result.call_sid


async def test_a_dialled_party_is_a_child_call_with_its_own_callbacks(twilio_side: TwilioSide) -> None:
    """`<Number statusCallback statusCallbackEvent>`: Twilio reports the dialled party's own call (a
    child SID, `ParentCallSid`, `Direction=outbound-dial`, its own sequence) at that URL: answered
    after the ring time, completed (its own duration) before the parent; only the events asked for."""
    twilio_side.after_stream = (
        '<Dial callerId="+14155550100"><Number statusCallback="/local/twilio/status" '
        'statusCallbackEvent="ringing answered completed">+14155550199</Number></Dial>'
    )
    phone = SimulatedPhone(twilio_side.api_url, TOKEN, ACCOUNT, speed=50.0)
    result = await phone.call(_conversation(2.0))

    assert result.leg_sid is not None
    assert result.leg_sid.startswith("CA")
    assert result.leg_sid != result.call_sid
    sent = [(f["CallSid"], f["CallStatus"]) for path, f in twilio_side.forms if path == "/twilio/status"]
    parent, leg = result.call_sid, result.leg_sid
    assert sent == [
        (parent, "initiated"),
        (parent, "ringing"),
        (parent, "in-progress"),
        (leg, "ringing"),  # no `initiated`: not asked for
        (leg, "in-progress"),
        (leg, "completed"),
        (parent, "completed"),
    ]
    legs = [f for path, f in twilio_side.forms if f.get("CallSid") == leg]
    assert {f["ParentCallSid"] for f in legs} == {parent}
    assert {(f["Direction"], f["From"], f["To"]) for f in legs} == {
        ("outbound-dial", "+14155550100", "+14155550199")
    }
    assert [f["SequenceNumber"] for f in legs] == ["1", "2", "3"]  # `initiated` was 0, fired but not sent
    parent_completed = next(
        f for _, f in twilio_side.forms if f["CallSid"] == parent and f["CallStatus"] == "completed"
    )
    # the leg is answered after the ring time (2.37 s) and ends with the caller: 2 s of conversation
    assert (legs[-1]["CallDuration"], parent_completed["CallDuration"]) == ("2", "4")


def test_a_dial_without_leg_callbacks_has_no_leg() -> None:
    plan = parse_twiml(
        '<Response><Start><Stream url="wss://s/media"/></Start><Dial>+14155550199</Dial></Response>',
        "https://x/",
    )
    assert (plan.dial_to, plan.dial_leg) == ("+14155550199", None)
    plan = parse_twiml(
        '<Response><Start><Stream url="wss://s/media"/></Start>'
        '<Dial><Number statusCallback="https://x/status">+14155550199</Number></Dial></Response>',
        "https://x/",
    )
    assert plan.dial_leg is not None
    assert (plan.dial_leg.events, plan.dial_leg.caller_id) == (
        frozenset({"completed"}),
        None,
    )  # Twilio's default


async def test_a_refused_upgrade_is_twilio_error_31920(twilio_side: TwilioSide) -> None:
    twilio_side.refuse_upgrade = True
    phone = SimulatedPhone(twilio_side.api_url, TOKEN, ACCOUNT, speed=50.0)
    with pytest.raises(PhoneError, match="31920"):
        await phone.call(_conversation(0.2))


async def test_a_dropped_stream_ends_the_stream_not_the_call(twilio_side: TwilioSide) -> None:
    """The streamer dies mid-call: Twilio stops the stream (error 31921) but the call goes on to its
    end, with its `completed` callback (the whole duration) and the recording of the whole call."""
    twilio_side.drop_after_media = 20
    phone = SimulatedPhone(twilio_side.api_url, TOKEN, ACCOUNT, speed=20.0)
    conversation = _conversation(2.0)
    result = await phone.call(conversation)

    assert result.stream_error is not None
    assert "31921" in result.stream_error
    streamed = conversation.delayed(result.lead_in_seconds)
    assert 20 <= result.frames_sent < 2 * len(streamed.inbound) // 160
    assert "stop" not in [m["event"] for m in twilio_side.messages]
    # the call lasted as long as its conversation, not cut at the drop, and was recorded whole
    statuses = [(path, f.get("CallStatus", f.get("RecordingStatus"))) for path, f in twilio_side.forms]
    assert statuses[-2:] == [("/twilio/status", "completed"), ("/twilio/recording", "completed")]
    assert twilio_side.forms[-2][1]["CallDuration"] == str(round(streamed.seconds))
    assert result.recording is not None
    assert result.recording.duration_seconds == pytest.approx(conversation.seconds + 0.01, abs=0.02)


async def test_a_wrong_token_is_refused_by_the_webhook(twilio_side: TwilioSide) -> None:
    phone = SimulatedPhone(twilio_side.api_url, "not-the-token", ACCOUNT, speed=50.0)
    with pytest.raises(PhoneError, match="HTTP 403"):
        await phone.call(_conversation(0.2))
    assert twilio_side.forms == []


def test_twiml_reading_resolves_relative_callbacks() -> None:
    plan = parse_twiml(
        '<Response><Start><Stream url="wss://s.example.com/media" track="both_tracks">'
        '<Parameter name="a" value="1"/></Stream></Start>'
        '<Say>hi</Say><Record recordingStatusCallback="/prod/twilio/recording"/></Response>',
        "https://api.example.com/prod/twilio/voice",
    )
    assert plan.stream is not None
    assert (plan.stream.url, plan.stream.track, plan.stream.parameters) == (
        "wss://s.example.com/media",
        "both_tracks",
        {"a": "1"},
    )
    assert plan.recording_callback == "https://api.example.com/prod/twilio/recording"
    assert plan.recording_source == "RecordVerb"
    assert parse_twiml("<Response><Say>hi</Say></Response>", "https://x/").stream is None
    with pytest.raises(PhoneError, match="invalid TwiML"):
        parse_twiml("<Response><Start>", "https://x/")


def test_wav_of_any_rate_becomes_8khz_mulaw(tmp_path: Path) -> None:
    path = tmp_path / "stereo44k.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(b"\x00\x10\x00\x10" * 44100)  # 1 s
    audio = load_audio(path)
    assert abs(len(audio) - 8000) <= 2
    raw = tmp_path / "x.ulaw"
    raw.write_bytes(b"\x7f" * 100)
    assert load_audio(raw) == b"\x7f" * 100
    with pytest.raises(PhoneError, match="unsupported"):
        load_audio(tmp_path / "x.mp3")


def test_tracks_are_aligned_to_whole_frames() -> None:
    inbound, outbound = align_tracks(b"\x01" * 170, None)
    assert len(inbound) == len(outbound) == 320
    assert outbound == b"\xff" * 320
    assert rfc2822().endswith("+0000")


def test_stream_signature_is_over_the_ws_url() -> None:
    phone = SimulatedPhone("http://127.0.0.1:1/local", TOKEN, ACCOUNT)
    url = "wss://stream.example.com/media"
    assert verify_stream_upgrade(url, {"X-Twilio-Signature": phone.sign(url, {})}, TOKEN)


def _marked_conversation(seconds: float) -> Conversation:
    """Tracks whose bytes say where they are: a recording cut at the wrong place cannot match."""
    count = int(seconds * 8000)
    inbound = bytes(0x10 + (i // 80) % 0x60 for i in range(count))  # changes every 10 ms
    outbound = bytes(0x80 + (i // 80) % 0x60 for i in range(count))
    return Conversation.from_audio(inbound, outbound)


async def test_a_dual_recording_starts_at_answer_and_is_served_like_twilio_serves_it(
    twilio_side: TwilioSide,
) -> None:
    conversation = _marked_conversation(1.5)
    with TwilioRestStandIn(ACCOUNT, TOKEN) as twilio:
        base_url = twilio.base_url
        phone = SimulatedPhone(twilio_side.api_url, TOKEN, ACCOUNT, speed=20.0, twilio_api_url=base_url)
        result = await phone.call(conversation)
        recording = result.recording
        assert recording is not None
        async with httpx.AsyncClient(timeout=5) as client:
            media = await client.get(recording.url + ".wav", auth=(ACCOUNT, TOKEN))
            assert (await client.get(recording.url + ".wav")).status_code == 401

    # record-from-answer-dual: the dialled party answered 2.37 s into the stream (not whole seconds).
    assert result.lead_in_seconds == recording.offset_seconds == 2.37
    assert (recording.source, recording.channels) == ("DialVerb", 2)
    assert result.stream_started_at is not None
    # on the call's clock, whatever the phone's speed: the recordings Lambda measures the offset by it
    assert recording.started_at - result.stream_started_at == timedelta(seconds=2.37)

    # The WAV: 16-bit PCM, 8 kHz, channel 0 the caller (inbound), channel 1 the dialled leg, both
    # starting exactly at the conversation's first sample (stream byte 2.37 * 8000 = 18960).
    audio = read_wav(recording.wav)
    assert (audio.format_tag, audio.bits_per_sample, audio.rate, len(audio.channels)) == (
        WAVE_FORMAT_PCM,
        16,
        8000,
        2,
    )
    streamed = conversation.delayed(2.37)
    assert audio.channels[0] == g711.ulaw_to_pcm16(streamed.inbound[18960:])
    assert audio.channels[1] == g711.ulaw_to_pcm16(streamed.outbound[18960:])
    assert audio.channels[0].startswith(g711.ulaw_to_pcm16(conversation.inbound))
    assert recording.duration_seconds == pytest.approx(conversation.seconds + 0.01, abs=0.02)

    # Served by the Twilio stand-in with basic auth, byte for byte.
    assert media.status_code == 200
    assert media.headers["content-type"] == "audio/x-wav"
    assert media.content == recording.wav

    # The callback: Twilio's parameters; the start time in whole seconds (the fraction is lost).
    form = dict(twilio_side.forms[-1][1])
    assert twilio_side.forms[-1][0] == "/twilio/recording"
    assert form["RecordingSid"] == recording.sid
    assert form["RecordingUrl"] == recording.url
    assert form["RecordingUrl"].startswith(f"{base_url}/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE")
    assert (form["RecordingChannels"], form["RecordingSource"], form["RecordingTrack"]) == (
        "2",
        "DialVerb",
        "both",
    )
    assert form["RecordingDuration"] == "2"
    assert parse_rfc2822(form["RecordingStartTime"]) == recording.started_at.replace(microsecond=0)


async def test_a_voicemail_recording_is_one_channel_after_the_greeting(twilio_side: TwilioSide) -> None:
    twilio_side.after_stream = (
        '<Say>Leave a message.</Say><Record maxLength="1" recordingStatusCallback="recording"/>'
    )
    conversation = _marked_conversation(2.0)
    phone = SimulatedPhone(twilio_side.api_url, TOKEN, ACCOUNT, speed=20.0)
    result = await phone.call(conversation)

    recording = result.recording
    assert recording is not None
    assert result.lead_in_seconds == recording.offset_seconds == phone.greeting_seconds == 3.41
    assert recording.url.startswith("https://api.twilio.com/")  # no Twilio stand-in given: not kept
    audio = read_wav(recording.wav)
    assert len(audio.channels) == 1
    assert audio.channels[0] == g711.ulaw_to_pcm16(conversation.inbound[:8000])  # the caller, maxLength 1 s
    form = dict(twilio_side.forms[-1][1])
    assert (form["RecordingChannels"], form["RecordingSource"], form["RecordingDuration"]) == (
        "1",
        "RecordVerb",
        "1",
    )


async def test_stream_hooks_fire_on_the_stream_clock(twilio_side: TwilioSide) -> None:
    fired: dict[float, float] = {}

    def hook(at: float) -> tuple[float, Any]:
        async def action() -> None:
            fired[at] = time.monotonic()

        return at, action

    phone = SimulatedPhone(
        twilio_side.api_url, TOKEN, ACCOUNT, speed=10.0, stream_hooks=(hook(3.0), hook(0.0), hook(99.0))
    )
    started = time.monotonic()
    result = await phone.call(_conversation(1.0))

    assert list(fired) == [0.0, 3.0, 99.0]  # in stream order; one past the end fires at the end
    assert fired[3.0] - fired[0.0] >= 3.0 / phone.speed - 0.02
    assert fired[99.0] <= started + 10
    assert result.lead_in_seconds == 2.37


def test_stereo_wav_is_two_tracks(tmp_path: Path) -> None:
    path = tmp_path / "stereo16k.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x10\x00\xf0" * 16000)  # 1 s: left +4096, right -4096
    inbound, outbound = load_tracks(path)
    assert outbound is not None
    assert abs(len(inbound) - 8000) <= 2
    assert len(inbound) == len(outbound)
    assert set(inbound[10:-10]) == {g711.pcm16_to_ulaw((4096).to_bytes(2, "little", signed=True))[0]}
    assert set(outbound[10:-10]) == {g711.pcm16_to_ulaw((-4096).to_bytes(2, "little", signed=True))[0]}
