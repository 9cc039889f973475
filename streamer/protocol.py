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

from shared.sids import is_call_sid

TRACKS = ("inbound", "outbound")


class ProtocolError(ValueError):
    """A frame that is not a well-formed Twilio Media Streams message: counted and skipped."""


class UnknownEventError(ProtocolError):
    """Well-formed JSON with an event we do not know: counted and skipped."""


class MalformedStartError(ProtocolError):
    """A `start` that is not Twilio's: no call SID of the right shape, parameters that are not a map
    of strings, tracks or a media format we cannot read. Never skipped: the stream is refused."""


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
    """One frame → one message; `ProtocolError` (or `UnknownEventError`) says why it was skipped, and
    `MalformedStartError` why a `start` must be refused. Nothing else escapes, whatever the frame."""
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
            return Connected(
                protocol=_scalar_or_type(doc.get("protocol", "")),
                version=_scalar_or_type(doc.get("version", "")),
            )
        if event == "stop":
            stop = doc.get("stop")
            sid = stop.get("callSid") if isinstance(stop, dict) else None
            return Stop(call_sid=None if sid is None else _scalar_or_type(sid))
        if event == "dtmf":
            dtmf = doc["dtmf"]
            return Dtmf(track=_scalar(dtmf.get("track", "")), digit=_scalar(dtmf["digit"]))
        if event == "mark":
            return Mark(name=_scalar(doc["mark"]["name"]))
    except (KeyError, TypeError, AttributeError) as exc:
        error = MalformedStartError if event == "start" else ProtocolError
        raise error(f"{event} message lacks {exc}") from exc
    raise UnknownEventError(f"unknown event {_scalar_or_type(event)[:40]!r}")


def _scalar(value: Any) -> str:
    """A string field as Twilio sends it; numbers are tolerated. Anything else (a list, an object) is
    malformed: turning it into text could mean walking a structure nested a thousand deep."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ProtocolError(f"expected a string, got {type(value).__name__}")


def _scalar_or_type(value: Any) -> str:
    """For error messages: a string or number as it is, anything else by its type name only."""
    try:
        return _scalar(value)
    except ProtocolError:
        return type(value).__name__


def _media(media: Any) -> Media:
    track = media["track"]
    if not isinstance(track, str) or track not in TRACKS:
        raise ProtocolError(f"unknown media track {_scalar_or_type(track)[:20]!r}")
    try:
        timestamp = int(media["timestamp"])
        chunk = int(media.get("chunk", 0))
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: 1e999 is JSON for inf
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
    """Strict: a `start` decides everything about the call, and its call SID and parameters are what
    the stream token is checked against, so they are kept exactly as they came off the wire."""
    call_sid = start["callSid"]
    if not is_call_sid(call_sid):
        raise MalformedStartError("start.callSid is missing or not a call SID")
    tracks = start.get("tracks") or ("inbound",)
    if not isinstance(tracks, list | tuple) or not all(isinstance(t, str) for t in tracks):
        raise MalformedStartError("start.tracks is not a list of track names")
    unknown = [t[:20] for t in tracks if t not in TRACKS]
    if unknown:
        raise MalformedStartError(f"start lists unknown tracks {unknown}")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise MalformedStartError("start.customParameters is not an object")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise MalformedStartError("start.customParameters holds a value that is not a string")
    media_format = start.get("mediaFormat") or {}
    try:
        encoding = _scalar(media_format.get("encoding", "audio/x-mulaw"))
        sample_rate = int(media_format.get("sampleRate", 8000))
        stream = _scalar(start.get("streamSid") or stream_sid or "")
        account_sid = _scalar(start.get("accountSid", ""))
    except (ProtocolError, ValueError, OverflowError) as exc:
        raise MalformedStartError("start.mediaFormat, streamSid or accountSid is malformed") from exc
    return Start(
        stream_sid=stream,
        call_sid=call_sid,
        account_sid=account_sid,
        tracks=tuple(tracks),
        custom_parameters=dict(params),
        encoding=encoding,
        sample_rate=sample_rate,
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
