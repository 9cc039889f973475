"""Twilio Media Streams messages (Twilio → us), parsed into typed values.

Twilio sends JSON text frames whose numbers are strings (sequenceNumber, chunk, timestamp) and whose
audio is base64 raw 8 kHz mu-law. Parsing is hand-written rather than pydantic because `media`
arrives 100 times a second per call: it is the streamer's hot path.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TRACKS = ("inbound", "outbound")


class ProtocolError(ValueError):
    """A frame that is not a well-formed Twilio Media Streams message: counted and skipped."""


class UnknownEventError(ProtocolError):
    """Well-formed JSON with an event we do not know: counted and skipped."""


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs twice as much, per frame
class Media:
    track: str
    timestamp_ms: int
    chunk: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Dtmf:
    track: str
    digit: str


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str | None


Message = Connected | Start | Media | Dtmf | Mark | Stop


def parse(frame: str | bytes) -> Message:
    """One frame → one message; `ProtocolError` (or `UnknownEventError`) says why it was skipped."""
    try:
        doc = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("frame is not JSON") from exc
    except RecursionError as exc:
        # Not a ValueError: without this a frame of nested brackets escapes every caller's
        # `except ProtocolError` and ends the session instead of being counted and skipped.
        raise ProtocolError("frame is JSON nested too deeply") from exc
    if not isinstance(doc, dict):
        raise ProtocolError("frame is not a JSON object")
    event = doc.get("event")
    try:
        if event == "media":
            return _media(doc["media"])
        if event == "start":
            return _start(doc["start"], doc.get("streamSid"))
        if event == "connected":
            return Connected(protocol=str(doc.get("protocol", "")), version=str(doc.get("version", "")))
        if event == "stop":
            stop = doc.get("stop")
            return Stop(
                call_sid=str(stop["callSid"]) if isinstance(stop, dict) and "callSid" in stop else None
            )
        if event == "dtmf":
            return Dtmf(track=str(doc["dtmf"].get("track", "")), digit=str(doc["dtmf"]["digit"]))
        if event == "mark":
            return Mark(name=str(doc["mark"]["name"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"{event} message lacks {exc}") from exc
    raise UnknownEventError(f"unknown event {str(event)[:40]!r}")


def _media(media: Any) -> Media:
    track = media["track"]
    if track not in TRACKS:
        raise ProtocolError(f"unknown media track {str(track)[:20]!r}")
    try:
        timestamp = int(media["timestamp"])
        chunk = int(media.get("chunk", 0))
    except (TypeError, ValueError) as exc:
        raise ProtocolError("media timestamp/chunk is not a number") from exc
    if timestamp < 0:
        raise ProtocolError("negative media timestamp")
    try:
        payload = binascii.a2b_base64(media["payload"], strict_mode=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ProtocolError("media payload is not base64") from exc
    if not payload:
        raise ProtocolError("empty media payload")
    return Media(track=track, timestamp_ms=timestamp, chunk=chunk, payload=payload)


def _start(start: Any, stream_sid: Any) -> Start:
    call_sid = start["callSid"]
    if not isinstance(call_sid, str) or not call_sid.startswith("CA"):
        raise ProtocolError("start.callSid is missing or not a call SID")
    tracks = tuple(str(t) for t in start.get("tracks") or ("inbound",))
    unknown = [t for t in tracks if t not in TRACKS]
    if unknown:
        raise ProtocolError(f"start lists unknown tracks {unknown}")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("start.customParameters is not an object")
    media_format = start.get("mediaFormat") or {}
    return Start(
        stream_sid=str(start.get("streamSid") or stream_sid or ""),
        call_sid=call_sid,
        account_sid=str(start.get("accountSid", "")),
        tracks=tracks,
        custom_parameters={str(k): str(v) for k, v in params.items()},
        encoding=str(media_format.get("encoding", "audio/x-mulaw")),
        sample_rate=int(media_format.get("sampleRate", 8000)),
    )


DEFAULT_SPEAKERS = {"inbound": "caller", "outbound": "callee"}


def speaker_roles(params: Mapping[str, str]) -> dict[str, str]:
    """Who speaks on each track: inbound = caller, outbound = callee, unless the TwiML said otherwise
    (`<Parameter name="inboundSpeaker"/"outboundSpeaker">`, or `mode=agent` for an AI agent)."""
    roles = dict(DEFAULT_SPEAKERS)
    if params.get("mode") == "agent":
        roles["outbound"] = "agent"
    for track in TRACKS:
        value = params.get(f"{track}Speaker")
        if value:
            roles[track] = value[:32]
    return roles
