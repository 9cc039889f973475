"""The TwiML the voice webhook answers with, built with `twilio.twiml` (escaping is its job).

What a change must keep:
- every call's first TwiML starts the media stream before any verb that talks to the caller, and a
  stream is started once per call (the TwiML after our own <Dial>/<Record> actions, or a listen call
  that comes back, never starts another);
- every call is recorded on two channels, caller first, unless its route says `record: false`
  (how, per route: docs/recordings.md, "Where `Recording Completed` comes from");
- a listen-in call's `<Redirect>` URL carries nothing of ours (no token, no secret);
- every stream is signed with the per-call token (`sign_streams`, applied by the handler).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from twilio.twiml.voice_response import Connect, Dial, Pause, Start, Stream, VoiceResponse

from shared import stream_token

STATUS_EVENTS = "initiated ringing answered completed"
RECORDING_EVENTS = "in-progress completed absent"
MAX_PARAMETER_CHARS = 500  # Twilio's limit on a <Parameter>'s name + value


@dataclass(frozen=True)
class CallbackUrls:
    """Where Twilio reaches this API back (public URLs, including the stage)."""

    voice: str
    status: str
    recording: str

    @property
    def base(self) -> str:
        """The public base URL they are under (what `under` was given)."""
        return self.voice.removesuffix("/twilio/voice")

    @classmethod
    def under(cls, base_url: str) -> CallbackUrls:
        base = base_url.rstrip("/")
        return cls(
            voice=f"{base}/twilio/voice", status=f"{base}/twilio/status", recording=f"{base}/twilio/recording"
        )


def _stream(url: str, parameters: Mapping[str, str | None], track: str | None) -> Stream:
    """A <Stream> with the parameters Twilio will hand back intact: unknown (None) and empty values
    are left out (whether Twilio returns an empty value in `customParameters` is undocumented, and
    the stream token must cover exactly what comes back), as is anything over Twilio's size limit."""
    stream = Stream(url=url, track=track) if track else Stream(url=url)
    for name, value in parameters.items():
        if name == stream_token.TOKEN_PARAMETER:
            continue  # only `sign_streams` writes the token
        if value and len(name) + len(value) < MAX_PARAMETER_CHARS:
            stream.parameter(name=name, value=value)
    return stream


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
STREAM_VERBS = ("Start", "Connect")


def sign_streams(twiml: str, *, call_sid: str, auth_token: str) -> str:
    """`twiml` with `<Parameter name="token">` added to every stream it starts (shared.stream_token).

    Done on the finished document rather than inside each builder so that the token signs exactly
    the `<Parameter>`s that were emitted (after dropping empty or oversized ones) and no route can
    forget it. `call_sid` is the call this TwiML answers: its streams report it as `start.callSid`.
    A document without a stream is returned as it is.
    """
    root = ET.fromstring(twiml)  # noqa: S314 - our own TwiML, built by twilio.twiml a moment ago
    streams = [
        stream for verb in root.iter() if verb.tag in STREAM_VERBS for stream in verb.findall("Stream")
    ]
    if not streams:
        return twiml
    for stream in streams:
        emitted: dict[str, str] = {}
        for parameter in stream.findall("Parameter"):
            name, value = parameter.get("name", ""), parameter.get("value", "")
            if name == stream_token.TOKEN_PARAMETER:
                stream.remove(parameter)  # never trust a token we did not compute here
                continue
            if name in emitted:
                # customParameters is a map: Twilio would keep one value, and the token would not verify
                raise ValueError(f"<Stream> has two <Parameter name={name!r}>")
            emitted[name] = value
        token = stream_token.sign(auth_token, call_sid, emitted)
        ET.SubElement(stream, "Parameter", name=stream_token.TOKEN_PARAMETER, value=token)
    return XML_DECLARATION + ET.tostring(root, encoding="unicode")


def _start_stream(response: VoiceResponse, stream_url: str, parameters: Mapping[str, str | None]) -> None:
    start = Start()
    start.append(_stream(stream_url, parameters, "both_tracks"))
    response.append(start)


def _notice(response: VoiceResponse, notice: str | None) -> None:
    if notice:
        response.say(notice)


def forward(
    *,
    stream_url: str,
    parameters: Mapping[str, str | None],
    notice: str | None,
    number: str,
    callbacks: CallbackUrls,
    record: bool = True,
    caller_id: str | None = None,
    timeout_seconds: int = 25,
) -> str:
    """Stream both tracks, then dial `number`, recording both legs from answer on two channels."""
    response = VoiceResponse()
    _start_stream(response, stream_url, parameters)
    _notice(response, notice)
    dial_options: dict[str, str | int] = {"action": callbacks.voice, "timeout": timeout_seconds}
    if caller_id:
        dial_options["caller_id"] = caller_id
    if record:
        dial_options.update(
            record="record-from-answer-dual",
            recording_status_callback=callbacks.recording,
            recording_status_callback_event=RECORDING_EVENTS,
        )
    dial = Dial(**dial_options)
    dial.number(number, status_callback=callbacks.status, status_callback_event=STATUS_EVENTS)
    response.append(dial)
    return str(response)


def voicemail(
    *,
    stream_url: str | None,
    parameters: Mapping[str, str | None],
    notice: str | None,
    greeting: str,
    callbacks: CallbackUrls,
    max_seconds: int,
    record: bool = True,
    thanks: str | None = None,
) -> str:
    """Stream (unless already streaming), greet, and record a message; the recording calls back.

    With `record=False` nothing is recorded: the caller is heard for up to `max_seconds` on the
    stream alone (<Pause>), then thanked with `thanks` and the call ends.
    """
    response = VoiceResponse()
    if stream_url is not None:
        _start_stream(response, stream_url, parameters)
        _notice(response, notice)
    response.say(greeting)
    if not record:
        response.append(Pause(length=max_seconds))
        if thanks:
            response.say(thanks)
        response.hangup()
        return str(response)
    response.record(
        action=callbacks.voice,
        max_length=max_seconds,
        play_beep=True,
        recording_status_callback=callbacks.recording,
        recording_status_callback_event="completed absent",
    )
    return str(response)


def agent(
    *, stream_url: str, parameters: Mapping[str, str | None], callbacks: CallbackUrls | None = None
) -> str:
    """Hand the call to the streamer's voice agent: a bidirectional <Connect><Stream>.

    With `callbacks`, the call is first recorded on two channels (caller, then the agent's voice)
    by `<Start><Recording>`: it needs no REST request and records from this moment to the call's end.
    """
    response = VoiceResponse()
    if callbacks is not None:
        _start_recording(response, callbacks)
    connect = Connect()
    connect.append(_stream(stream_url, {**parameters, "mode": "agent"}, None))
    response.append(connect)
    return str(response)


def _start_recording(response: VoiceResponse, callbacks: CallbackUrls, *, trim: str | None = None) -> None:
    """Record the whole call from here on two channels (the caller, then what the caller hears)."""
    start = Start()
    options = {"trim": trim} if trim else {}
    start.recording(
        recording_status_callback=callbacks.recording,
        recording_status_callback_event=RECORDING_EVENTS,
        channels="dual",
        track="both",
        **options,
    )
    response.append(start)


def listen(
    *,
    stream_url: str,
    parameters: Mapping[str, str | None],
    notice: str | None,
    twiml_url: str,
    method: str,
    callbacks: CallbackUrls | None,
) -> str:
    """Listen in on the team's own call flow: stream both tracks, record (with `callbacks`), say the
    notice, then hand the call to `twiml_url`.

    The recording is not trimmed (`<Recording>` trims leading silence by default), so recording time
    stays stream time plus its start offset, which reconciliation relies on.
    """
    response = VoiceResponse()
    _start_stream(response, stream_url, parameters)
    if callbacks is not None:
        _start_recording(response, callbacks, trim="do-not-trim")
    _notice(response, notice)
    response.redirect(twiml_url, method=method)
    return str(response)


def hand_back(*, twiml_url: str, method: str) -> str:
    """Only the `<Redirect>`: a listen call back at our webhook already streams (and records)."""
    response = VoiceResponse()
    response.redirect(twiml_url, method=method)
    return str(response)


def say_and_hang_up(
    message: str, *, stream_url: str | None = None, parameters: Mapping[str, str | None] | None = None
) -> str:
    response = VoiceResponse()
    if stream_url is not None:
        _start_stream(response, stream_url, parameters or {})
    response.say(message)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
