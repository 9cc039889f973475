"""Twilio Media Streams messages. Payload shapes are Twilio's documented examples
(https://www.twilio.com/docs/voice/media-streams/websocket-messages) with real base64 audio."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest

from streamer import protocol

START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "AC" + "X" * 32,
        "streamSid": "MZ" + "X" * 32,
        "callSid": "CA" + "0123456789abcdef" * 2,
        "tracks": ["inbound", "outbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"},
    },
    "streamSid": "MZ" + "X" * 32,
}


def _media(track: str = "inbound", timestamp: str = "5", payload: str | None = None) -> str:
    payload = base64.b64encode(b"\xff\x7e" * 80).decode() if payload is None else payload
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": "4",
            "media": {"track": track, "chunk": "2", "timestamp": timestamp, "payload": payload},
            "streamSid": "MZ" + "X" * 32,
        }
    )


def test_start_carries_call_sid_tracks_and_custom_parameters() -> None:
    start = protocol.parse(json.dumps(START))
    assert isinstance(start, protocol.Start)
    assert start.call_sid == "CA" + "0123456789abcdef" * 2
    assert start.tracks == ("inbound", "outbound")
    assert start.custom_parameters["RemoteParty"] == "Bob"
    assert (start.encoding, start.sample_rate) == ("audio/x-mulaw", 8000)


def test_media_numbers_are_strings_on_the_wire_and_ints_here() -> None:
    media = protocol.parse(_media("outbound", "5"))
    assert media == protocol.Media(track="outbound", timestamp_ms=5, chunk=2, payload=b"\xff\x7e" * 80)


def test_connected_stop_dtmf_mark() -> None:
    assert isinstance(protocol.parse('{"event": "connected", "protocol": "Call", "version": "1.0.0"}'),
                      protocol.Connected)  # fmt: skip
    stop = protocol.parse(json.dumps({"event": "stop", "sequenceNumber": "5",
                                      "stop": {"accountSid": "AC1", "callSid": "CA1"}}))  # fmt: skip
    assert stop == protocol.Stop(call_sid="CA1")
    dtmf = protocol.parse(json.dumps({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "1"}}))
    assert dtmf == protocol.Dtmf(track="inbound_track", digit="1")
    assert protocol.parse('{"event": "mark", "mark": {"name": "my label"}}') == protocol.Mark("my label")


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        '{"event": "media"}',
        _media(payload="no+JhoaJjpz..."),  # Twilio's abbreviated doc payload is not valid base64
        _media(payload=""),
        _media(track="both"),
        _media(timestamp="soon"),
        _media(timestamp="-20"),
        json.dumps({**START, "start": {**START["start"], "callSid": None}}),  # type: ignore[dict-item]
        json.dumps({**START, "start": {**START["start"], "tracks": ["sideways"]}}),  # type: ignore[dict-item]
    ],
)
def test_malformed_frames_raise_protocol_error(frame: str) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(frame)


def test_unknown_event_is_its_own_error() -> None:
    with pytest.raises(protocol.UnknownEventError):
        protocol.parse('{"event": "telepathy"}')


def test_speakers_default_and_overrides() -> None:
    assert protocol.speaker_roles({}) == {"inbound": "caller", "outbound": "callee"}
    assert protocol.speaker_roles({"mode": "agent"}) == {"inbound": "caller", "outbound": "agent"}
    assert protocol.speaker_roles({"inboundSpeaker": "agent", "outboundSpeaker": "customer"}) == {
        "inbound": "agent",
        "outbound": "customer",
    }


@pytest.mark.parametrize("nesting", ["[" * 100_000, '{"event": "media", "media": ' + "[" * 100_000])
def test_deeply_nested_json_is_a_protocol_error_not_a_crash(nesting: str) -> None:
    """json raises RecursionError (not ValueError) past its depth limit; a frame must never do that."""
    with pytest.raises(protocol.ProtocolError, match="nested too deeply"):
        protocol.parse(nesting)


def _start_with(**fields: object) -> str:
    return json.dumps({**START, "start": {**START["start"], **fields}})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "frame",
    [
        _start_with(callSid="CA../../../x"),
        _start_with(callSid="CA" + "X" * 32),  # not hex
        _start_with(callSid="CA" + "0" * 32 + "\n"),
        _start_with(callSid="CA" + "0" * 31),
        _start_with(callSid=["CA" + "0" * 32]),
        _start_with(customParameters={"mode": ["agent"]}),
        _start_with(customParameters={"token": 123}),
        _start_with(customParameters=["mode", "agent"]),
        _start_with(tracks="inbound"),
        _start_with(tracks=[["inbound"]]),
        _start_with(mediaFormat={"sampleRate": "fast"}),
        _start_with(mediaFormat={"sampleRate": "1e999"}),
        _start_with(mediaFormat=["mulaw"]),
        json.dumps({"event": "start", "start": "CA" + "0" * 32}),
        json.dumps({"event": "start"}),
    ],
)
def test_a_start_that_is_not_twilios_is_malformed_not_skipped(frame: str) -> None:
    """The session refuses such a stream (1008) instead of waiting for a better `start`."""
    with pytest.raises(protocol.MalformedStartError):
        protocol.parse(frame)


def test_start_parameters_are_kept_exactly_as_sent() -> None:
    """What the stream token is checked against must be the wire's values, never a conversion."""
    params = {"mode": "agent", "greeting": "Hi  there ", "token": "ab" * 32}
    start = protocol.parse(_start_with(customParameters=params))
    assert isinstance(start, protocol.Start)
    assert start.custom_parameters == params


@pytest.mark.parametrize("value", ["1e999", "-1e999", "[" * 50 + "]" * 50, '{"a": 1}', "true", "null"])
@pytest.mark.parametrize(
    "template",
    [
        '{"event": "media", "media": {"track": "inbound", "timestamp": VALUE, "payload": "/w=="}}',
        '{"event": "media", "media": {"track": "inbound", "timestamp": "0", "chunk": VALUE, "payload": "/w=="}}',  # noqa: E501
        '{"event": "media", "media": {"track": VALUE, "timestamp": "0", "payload": "/w=="}}',
        '{"event": "media", "media": {"track": "inbound", "timestamp": "0", "payload": VALUE}}',
        '{"event": "dtmf", "dtmf": {"digit": VALUE}}',
        '{"event": "mark", "mark": {"name": VALUE}}',
        '{"event": VALUE}',
    ],
)
def test_no_field_value_makes_parse_raise_anything_but_a_protocol_error(template: str, value: str) -> None:
    """Before: a timestamp of 1e999 (JSON for infinity) raised OverflowError past the pump's
    `except ProtocolError`, ending the stream on one frame."""
    with contextlib.suppress(protocol.ProtocolError):
        protocol.parse(template.replace("VALUE", value))
