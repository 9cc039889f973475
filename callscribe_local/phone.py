"""A phone call the way Twilio delivers it to callscribe: signed webhooks, TwiML, a Media Stream.

`SimulatedPhone` plays Twilio's part against the local API and streamer, so the product code runs
unchanged: status callbacks (optionally out of order), the voice webhook, the TwiML answer (streams,
recordings, `<Dial>` legs and their callbacks, `<Redirect>`), the Media Stream in real time (times
`speed`), the recording and its callback, Twilio's view of the call at the Twilio stand-in, and
agent mode (`agent_stream.py`). What each of these sends: docs/local.md, "The simulated phone".
Must keep: every request signed by twilio's own `RequestValidator` over the exact URL it goes to;
Twilio's parameter sets and message shapes as documented there; Twilio's view of a call kept at the
stand-in before the callback that reports it; a stream that drops ends the stream, not the call.
Over 1,000 lines: one call's whole Twilio side (callbacks, TwiML, stream, legs, recording) is one
session that must keep its own order; agent mode's turn-taking lives in agent_stream.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callscribe_local import g711, wavfile
from callscribe_local.agent_stream import (
    AgentCallResult,
    AgentScript,
    AgentStream,
    CallerTurn,
    ConversationObserver,
)
from callscribe_local.call_control import TwilioControl

RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law: what Twilio sends in practice
FRAME_SECONDS = FRAME_BYTES / RATE
MULAW_SILENCE = b"\xff"
API_VERSION = "2010-04-01"
AUDIO_DIR = Path(__file__).parent / "audio"


class PhoneError(RuntimeError):
    """The product answered the simulated Twilio in a way real Twilio would log as an error."""


# -- audio ----------------------------------------------------------------------------------------


def load_tracks(path: Path) -> tuple[bytes, bytes | None]:
    """8 kHz mu-law track(s) from an audio file: a headerless 8 kHz mu-law `.ulaw`/`.raw` (taken as
    is, one track) or a `.wav` of any rate in PCM (8-32 bit), IEEE float, G.711 mu-law (tag 7) or
    A-law (tag 6). A mono WAV is one track; a stereo WAV is two: channel 0 the inbound track (the
    caller), channel 1 the outbound track (what the caller hears)."""
    suffix = path.suffix.lower()
    if suffix in {".ulaw", ".mulaw", ".raw", ".ul"}:
        return _read(path), None
    if suffix != ".wav":
        raise PhoneError(f"{path}: unsupported audio file (use .wav or headerless 8 kHz mu-law .ulaw)")
    try:
        return wavfile.to_phone(wavfile.read_wav(_read(path)))
    except wavfile.WavError as exc:
        raise PhoneError(f"{path}: not a WAV file this tool reads ({exc})") from exc


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if not data:
        raise PhoneError(f"{path}: the file is empty (0 bytes)")
    return data


def load_audio(path: Path) -> bytes:
    """One 8 kHz mu-law track from an audio file (see `load_tracks`); a stereo WAV is mixed down."""
    suffix = path.suffix.lower()
    if suffix != ".wav":
        return load_tracks(path)[0]
    try:
        audio = wavfile.read_wav(_read(path))
    except wavfile.WavError as exc:
        raise PhoneError(f"{path}: not a WAV file this tool reads ({exc})") from exc
    return g711.pcm16_to_ulaw(wavfile.resample(audio.mono(), audio.rate, RATE))


def align_tracks(inbound: bytes, outbound: bytes | None) -> tuple[bytes, bytes]:
    """Both tracks the same length (Twilio streams both for the whole call): pad with silence."""
    outbound = outbound or b""
    length = max(len(inbound), len(outbound))
    length = math.ceil(length / FRAME_BYTES) * FRAME_BYTES
    return inbound.ljust(length, MULAW_SILENCE), outbound.ljust(length, MULAW_SILENCE)


@dataclass(frozen=True)
class Conversation:
    """Two tracks of a call: what the caller says (inbound) and what they hear (outbound)."""

    inbound: bytes
    outbound: bytes
    turns: tuple[Mapping[str, Any], ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.inbound) / RATE

    @classmethod
    def from_audio(cls, inbound: bytes, outbound: bytes | None = None) -> Conversation:
        a, b = align_tracks(inbound, outbound)
        return cls(a, b)

    def clip(self, seconds: float) -> Conversation:
        """The first `seconds` (whole frames), keeping only the turns that end inside it."""
        cut = math.ceil(seconds * RATE / FRAME_BYTES) * FRAME_BYTES
        kept = tuple(t for t in self.turns if float(t["end"]) <= seconds)
        return Conversation(self.inbound[:cut], self.outbound[:cut], kept)

    def delayed(self, seconds: float) -> Conversation:
        """The same conversation starting `seconds` later (silence before it on both tracks, padded
        to whole frames at the end), its turns moved by as much."""
        if seconds <= 0:
            return self
        lead = MULAW_SILENCE * round(seconds * RATE)
        inbound, outbound = align_tracks(lead + self.inbound, lead + self.outbound)
        turns = tuple(
            {**t, "start": float(t["start"]) + seconds, "end": float(t["end"]) + seconds} for t in self.turns
        )
        return Conversation(inbound, outbound, turns)


def bundled_conversation() -> Conversation:
    """The project's own synthesised support call (see callscribe_local/audio/README.md)."""
    manifest = json.loads((AUDIO_DIR / "conversation.json").read_text())
    inbound, outbound = align_tracks(
        (AUDIO_DIR / "caller.ulaw").read_bytes(), (AUDIO_DIR / "callee.ulaw").read_bytes()
    )
    return Conversation(inbound, outbound, tuple(manifest["turns"]))


# -- TwiML ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInstruction:
    url: str
    track: str
    name: str | None
    parameters: dict[str, str]
    bidirectional: bool  # <Connect><Stream> (agent mode) rather than <Start><Stream>


@dataclass(frozen=True)
class RedirectInstruction:
    """`<Redirect method>URL</Redirect>`: Twilio fetches URL for the call's next TwiML."""

    url: str
    method: str  # GET | POST


START_RECORDING = "StartCallRecordingTwiML"  # RecordingSource of a <Start><Recording>
MAX_REDIRECTS = 10  # more in a row is a loop here; Twilio would end the call


@dataclass(frozen=True)
class CallPlan:
    """What the TwiML asks Twilio to do, as far as the simulator needs it."""

    stream: StreamInstruction | None
    dial_to: str | None
    recording_callback: str | None
    recording_source: str | None  # DialVerb | RecordVerb | START_RECORDING (None: nothing is recorded)
    # <Dial record=…>: record-from-answer[-dual] | record-from-ringing[-dual]; "record" for <Record>;
    # start-recording-dual | start-recording-mono for <Start><Recording channels>
    recording_mode: str | None = None
    recording_max_seconds: float | None = None  # <Record maxLength>
    dial_leg: DialLeg | None = None  # the <Dial>ed party's own call, when the TwiML asks for its callbacks
    redirect: RedirectInstruction | None = None  # <Redirect>: where the call's TwiML goes on

    @property
    def records(self) -> bool:
        return self.recording_source is not None

    @property
    def recording_channels(self) -> int:
        return 2 if (self.recording_mode or "").endswith("-dual") else 1

    def followed_by(self, following: CallPlan) -> CallPlan:
        """This document's plan going on with the TwiML its `<Redirect>` fetched: the stream and a
        recording started with `<Start>` run on to the call's end; the new document's verbs decide
        the rest (its `<Dial>`, its `<Record>`, its own `<Redirect>`)."""
        recorder = self if self.recording_source == START_RECORDING else following
        return CallPlan(
            self.stream or following.stream,
            following.dial_to,
            recorder.recording_callback,
            recorder.recording_source,
            recorder.recording_mode,
            recorder.recording_max_seconds,
            following.dial_leg,
            following.redirect,
        )


@dataclass(frozen=True)
class DialLeg:
    """The child call a `<Dial><Number statusCallback=…>` makes: Twilio reports its progress to that
    URL (only the `statusCallbackEvent`s named; `completed` when none are) under its own CallSid,
    with `ParentCallSid` and `Direction=outbound-dial`."""

    status_callback: str
    events: frozenset[str]
    caller_id: str | None  # <Dial callerId>; Twilio shows the inbound caller's number without it


def _dial_leg(dial: ET.Element, number: ET.Element | None, base_url: str) -> DialLeg | None:
    callback = number.get("statusCallback") if number is not None else None
    if number is None or not callback:
        return None
    events = frozenset((number.get("statusCallbackEvent") or "completed").split())
    return DialLeg(urljoin(base_url, callback), events, dial.get("callerId"))


_DIAL_RECORD_MODES = {
    "record-from-answer",
    "record-from-ringing",
    "record-from-answer-dual",
    "record-from-ringing-dual",
}


def parse_twiml(xml_text: str, base_url: str) -> CallPlan:
    """Read the verbs Twilio would act on. Relative callback URLs resolve against the webhook URL."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314 - our own local API's answer, not untrusted input
    except ET.ParseError as exc:
        raise PhoneError(f"the voice webhook answered invalid TwiML: {exc}") from exc
    if root.tag != "Response":
        raise PhoneError(f"TwiML root is <{root.tag}>, expected <Response>")
    stream: StreamInstruction | None = None
    started_recording: ET.Element | None = None
    for verb in root:
        if verb.tag == "Start" and started_recording is None:
            started_recording = verb.find("Recording")
        if verb.tag in {"Start", "Connect"} and stream is None:
            element = verb.find("Stream")
            if element is not None and element.get("url"):
                stream = StreamInstruction(
                    url=urljoin(base_url, element.get("url", "")),
                    track=element.get("track", "inbound_track"),
                    name=element.get("name"),
                    parameters={p.get("name", ""): p.get("value", "") for p in element.findall("Parameter")},
                    bidirectional=verb.tag == "Connect",
                )
    dial = root.find("Dial")
    record = root.find("Record")
    callback_url: str | None = None
    source: str | None = None
    mode: str | None = None
    max_seconds: float | None = None
    dial_to: str | None = None
    dial_leg: DialLeg | None = None
    if dial is not None:  # what it dials (the recording: <Start><Recording> first, below)
        number = dial.find("Number")
        dial_to = (number.text if number is not None else dial.text) or None
        dial_leg = _dial_leg(dial, number, base_url)
        attribute = dial.get("record", "do-not-record")
        mode = "record-from-answer" if attribute == "true" else attribute
        if mode in _DIAL_RECORD_MODES:
            source = "DialVerb"
            callback_url = dial.get("recordingStatusCallback")
        else:
            mode = None
    elif record is not None:
        source, mode = "RecordVerb", "record"
        callback_url = record.get("recordingStatusCallback")
        max_seconds = float(record.get("maxLength", "3600"))
    if started_recording is not None:  # records the whole call from here: it is the call's recording
        channels = started_recording.get("channels", "dual")  # Twilio's default for <Recording>
        source, mode, max_seconds = START_RECORDING, f"start-recording-{channels}", None
        callback_url = started_recording.get("recordingStatusCallback")
    redirect = root.find("Redirect")
    return CallPlan(
        stream,
        dial_to.strip() if dial_to else None,
        urljoin(base_url, callback_url) if callback_url else None,
        source,
        mode,
        max_seconds,
        dial_leg if dial_to else None,
        _redirect(redirect, base_url) if redirect is not None else None,
    )


def _redirect(verb: ET.Element, base_url: str) -> RedirectInstruction:
    url = (verb.text or "").strip()
    if not url:
        raise PhoneError("<Redirect> names no URL (Twilio error 12100)")
    method = verb.get("method", "POST").upper()
    if method not in {"GET", "POST"}:
        raise PhoneError(f"<Redirect method={method!r}>: Twilio takes GET or POST")
    return RedirectInstruction(urljoin(base_url, url), method)


# -- progress -------------------------------------------------------------------------------------


class PhoneObserver(Protocol):
    """What a UI learns while the call runs (the demo draws steps and a progress bar from it)."""

    def step(self, name: str, detail: str) -> None: ...

    def streamed(self, seconds: float, total: float) -> None: ...


class QuietObserver:
    def step(self, name: str, detail: str) -> None:
        return None

    def streamed(self, seconds: float, total: float) -> None:
        return None


# -- the call -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerId:
    """The parties and the geo fields Twilio adds to every request about the call."""

    from_number: str = "+14155550123"
    to_number: str = "+14155550100"
    from_city: str = "SAN FRANCISCO"
    from_state: str = "CA"
    from_zip: str = "94105"
    from_country: str = "US"
    to_city: str = "SAN FRANCISCO"
    to_state: str = "CA"
    to_zip: str = ""  # Twilio often sends it empty; the signature must still cover it
    to_country: str = "US"


@dataclass(frozen=True)
class PhoneRecording:
    """The recording Twilio made of the call, as the phone made it (also in the Twilio stand-in when
    the phone has `twilio_api_url`).

    Timing: the stream starts when the call is answered; the recording starts `offset_seconds`
    later on the stream's clock (a `<Dial>`ed party answers after the ring time, a `<Record>`
    starts after the greeting), so recording time t is stream time t + offset_seconds.
    `started_at` is that moment with its sub-second part, on the call's clock (stream start plus
    `offset_seconds`, at any phone speed: at speed 1 the wall clock); the callback's
    `RecordingStartTime` carries only whole seconds of it, as Twilio's does.
    """

    sid: str
    url: str  # RecordingUrl: the media URL without extension (append .wav / .json)
    source: str  # DialVerb | RecordVerb
    channels: int
    offset_seconds: float
    started_at: datetime
    duration_seconds: float
    wav: bytes = field(repr=False)


@dataclass
class CallResult:
    call_sid: str
    stream_sid: str | None
    plan: CallPlan
    duration_seconds: int
    frames_sent: int = 0
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (what, HTTP status)
    # Stream time at which the conversation's audio begins (the ring time of a <Dial>, the greeting
    # before a <Record>, else 0): a turn spoken at t in the conversation is streamed at t + this.
    lead_in_seconds: float = 0.0
    stream_started_at: datetime | None = None  # wall clock when the first media frame was due
    recording: PhoneRecording | None = None
    # The stream's WebSocket dropped mid-call (the streamer died): Twilio logs an error and stops the
    # stream, but the call goes on to its end, with its `completed` callback and its recording.
    stream_error: str | None = None
    leg_sid: str | None = None  # the <Dial>ed party's call, when its status callbacks were asked for
    agent: AgentCallResult | None = None  # a bidirectional stream (agent mode): what was said and heard


StreamHook = tuple[float, Callable[[], Coroutine[Any, Any, None]]]
"""(stream seconds, action): the phone starts the action when the stream reaches that time (hooks
still pending when the stream ends start then, in order), e.g. a scripted Deepgram outage."""

RING_SECONDS = 2.37  # a <Dial>ed party answers this long after the stream starts (not whole seconds)
GREETING_SECONDS = 3.41  # a <Record> starts this long after the stream (greeting and beep played)


@dataclass
class SimulatedPhone:
    """Places calls into a callscribe API the way Twilio would (one instance, many calls)."""

    api_url: str  # e.g. LocalApiGateway.url: http://127.0.0.1:PORT/local
    auth_token: str
    account_sid: str
    caller: CallerId = field(default_factory=CallerId)
    speed: float = 1.0  # 1.0 = real time, as Twilio; tests may go faster
    out_of_order: bool = False
    observer: PhoneObserver = field(default_factory=QuietObserver)
    voice_path: str = "/twilio/voice"
    status_path: str = "/twilio/status"
    http_timeout: float = 15.0  # Twilio's hard limit for a webhook answer
    # Where recordings are kept and served (the Twilio REST stand-in's base URL); None: the phone
    # still makes the recording (CallResult.recording) but its RecordingUrl points at api.twilio.com.
    twilio_api_url: str | None = None
    ring_seconds: float = RING_SECONDS
    greeting_seconds: float = GREETING_SECONDS
    stream_hooks: tuple[StreamHook, ...] = ()
    # agent mode: told what the caller notices as it happens (turns, the agent speaking, barge-ins, the end)
    conversation_observer: ConversationObserver | None = None

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.ring_seconds < 0 or self.greeting_seconds < 0:
            raise ValueError("ring and greeting times cannot be negative")
        self._validator = RequestValidator(self.auth_token)

    # -- public --------------------------------------------------------------------------------

    async def call(
        self, conversation: Conversation, call_sid: str | None = None, *, script: AgentScript | None = None
    ) -> CallResult:
        """Place a call. Should the TwiML connect the agent, the caller speaks `script`'s turns (by
        default the conversation's inbound track, as one turn)."""
        call_sid = call_sid or "CA" + uuid.uuid4().hex
        async with httpx.AsyncClient(timeout=self.http_timeout) as http:
            session = _CallSession(self, http, call_sid)
            return await session.run(conversation, script)

    # -- signing -------------------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        return str(self._validator.compute_signature(url, dict(params)))

    def base_params(self, call_sid: str) -> dict[str, str]:
        c = self.caller
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call_sid,
            "Direction": "inbound",
            "From": c.from_number,
            "Caller": c.from_number,
            "To": c.to_number,
            "Called": c.to_number,
            "FromCity": c.from_city,
            "FromState": c.from_state,
            "FromZip": c.from_zip,
            "FromCountry": c.from_country,
            "CallerCity": c.from_city,
            "CallerState": c.from_state,
            "CallerZip": c.from_zip,
            "CallerCountry": c.from_country,
            "ToCity": c.to_city,
            "ToState": c.to_state,
            "ToZip": c.to_zip,
            "ToCountry": c.to_country,
            "CalledCity": c.to_city,
            "CalledState": c.to_state,
            "CalledZip": c.to_zip,
            "CalledCountry": c.to_country,
        }


def rfc2822(moment: datetime | None = None) -> str:
    """Twilio's Timestamp format: 'Sun, 25 Mar 2018 09:53:19 +0000'."""
    return format_datetime((moment or datetime.now(UTC)).replace(microsecond=0))


class _CallSession:
    """One call's state: the SID, the status callback sequence, what the API answered."""

    def __init__(self, phone: SimulatedPhone, http: httpx.AsyncClient, call_sid: str) -> None:
        self.phone = phone
        self.http = http
        self.call_sid = call_sid
        self.sequence = 0
        self.callbacks: list[tuple[str, int]] = []
        self.answered_at: float | None = None
        self.stream_started_at: datetime | None = None
        self.stream_error: str | None = None

    async def run(self, conversation: Conversation, script: AgentScript | None = None) -> CallResult:
        phone = self.phone
        base = phone.api_url.rstrip("/")
        parties = f"{phone.caller.from_number} calls {phone.caller.to_number}"
        phone.observer.step("dial", f"{parties} ({self.call_sid})")
        await self.keep_call(
            self.call_sid,
            Status="ringing",
            Direction="inbound",
            From=phone.caller.from_number,
            To=phone.caller.to_number,
        )
        await self._status("initiated")
        await self._status("ringing")
        voice_url = base + phone.voice_path
        twiml = await self._post(
            "voice webhook",
            voice_url,
            {
                **phone.base_params(self.call_sid),
                "CallStatus": "ringing",
                "StirVerstat": "TN-Validation-Passed-A",
            },
            required=True,
        )
        plan = await self._follow_redirects(parse_twiml(twiml, voice_url))
        if plan.stream is None:
            raise PhoneError("the TwiML starts no <Stream>: this call would not be transcribed")
        if plan.stream.bidirectional:
            return await self._run_agent(plan, script or _one_turn(conversation))
        phone.observer.step(
            "twiml",
            f"stream {plan.stream.url} track={plan.stream.track}"
            + (f", dial {plan.dial_to}" if plan.dial_to else "")
            + (f", recording ({plan.recording_mode})" if plan.records else ""),
        )
        self.answered_at = time.monotonic()
        answered_wall = datetime.now(UTC)
        await self.keep_call(self.call_sid, Status="in-progress", StartTime=answered_wall.isoformat())
        in_progress = self._next_sequence()  # fired now; with out_of_order, delivered after completed
        if not phone.out_of_order:
            await self._status("in-progress", sequence=in_progress)

        # The stream starts at answer; a <Dial>ed party rings first, a <Record> follows a greeting:
        # both tracks carry silence until then (ringback and the greeting are not synthesised).
        lead_in = self._lead_in(plan)
        streamed = conversation.delayed(lead_in)
        leg = _DialledLeg(self, plan.dial_leg, plan.dial_to) if plan.dial_leg and plan.dial_to else None
        if leg is not None:
            await leg.begin()
        answering = None if leg is None else asyncio.create_task(leg.answer_after(lead_in / phone.speed))
        try:
            stream_sid, frames = await self._stream(plan.stream, streamed)
            if answering is not None:
                await answering
        finally:
            if answering is not None and not answering.done():
                answering.cancel()

        duration = max(1, round(streamed.seconds))
        if leg is not None:
            # the dialled party hangs up: the <Dial> (and its leg) ends, then the parent call
            await leg.complete(max(1, round(streamed.seconds - lead_in)))
        await self._completed(duration, in_progress)
        recording = await self._recording(plan, streamed, lead_in) if plan.records else None
        phone.observer.step("hangup", f"call {self.call_sid} completed after {duration} s")
        return CallResult(
            self.call_sid,
            stream_sid,
            plan,
            duration,
            frames,
            self.callbacks,
            lead_in_seconds=lead_in,
            stream_started_at=self.stream_started_at,
            recording=recording,
            stream_error=self.stream_error,
            leg_sid=None if leg is None else leg.call_sid,
        )

    async def _follow_redirects(self, plan: CallPlan) -> CallPlan:
        """Fetch each `<Redirect>`'s TwiML as Twilio does (a signed request with the call's
        parameters; the call is answered by then) and go on with it."""
        for _ in range(MAX_REDIRECTS):
            target = plan.redirect
            if target is None:
                return plan
            params = {**self.phone.base_params(self.call_sid), "CallStatus": "in-progress"}
            twiml = await self._fetch(f"redirect ({target.method})", target.url, target.method, params)
            plan = plan.followed_by(parse_twiml(twiml, target.url))
        raise PhoneError(f"more than {MAX_REDIRECTS} <Redirect>s in a row: a loop (Twilio ends such a call)")

    async def _run_agent(self, plan: CallPlan, script: AgentScript) -> CallResult:
        """`<Connect><Stream>`: the conversation with the agent, then the call's end as Twilio ends it."""
        phone = self.phone
        assert plan.stream is not None
        phone.observer.step("twiml", f"connect the agent: bidirectional stream {plan.stream.url}")
        await self.keep_call(self.call_sid, Status="in-progress", StartTime=datetime.now(UTC).isoformat())
        in_progress = self._next_sequence()
        if not phone.out_of_order:
            await self._status("in-progress", sequence=in_progress)
        stream_sid = "MZ" + uuid.uuid4().hex
        async with self._connected(plan.stream) as ws:
            phone.observer.step("stream", f"connected to {plan.stream.url} ({stream_sid}), caller track only")
            await self._start(ws, plan.stream, stream_sid, ("inbound",))
            self.stream_started_at = datetime.now(UTC)
            control = None
            if phone.twilio_api_url is not None:
                control = TwilioControl(self.http, phone.twilio_api_url, phone.account_sid, phone.auth_token)
            agent = await AgentStream(
                ws,
                call_sid=self.call_sid,
                account_sid=phone.account_sid,
                stream_sid=stream_sid,
                script=script,
                speed=phone.speed,
                control=control,
                observer=phone.conversation_observer,
            ).run()
        frames = len(agent.inbound) // FRAME_BYTES
        phone.observer.step("stream", f"stopped after {frames} media messages ({agent.ending})")
        seconds = agent.seconds
        if agent.transfer_to is not None:
            # Twilio leaves <Connect> for the new TwiML: it rings the number, which answers; the
            # simulation has nothing more to say, so the caller hangs up once connected
            phone.observer.step(
                "transfer", f"dialling {agent.transfer_to}; it answers after {phone.ring_seconds} s"
            )
            await asyncio.sleep(phone.ring_seconds / phone.speed)
            seconds += phone.ring_seconds
        duration = max(1, round(seconds))
        await self._completed(duration, in_progress)
        phone.observer.step("hangup", f"call {self.call_sid} completed after {duration} s")
        return CallResult(
            self.call_sid,
            stream_sid,
            plan,
            duration,
            frames,
            self.callbacks,
            stream_started_at=self.stream_started_at,
            agent=agent,
        )

    def _lead_in(self, plan: CallPlan) -> float:
        if plan.dial_to is not None:
            return self.phone.ring_seconds
        if plan.recording_source == "RecordVerb":
            return self.phone.greeting_seconds
        return 0.0

    async def _completed(self, duration: int, in_progress: int) -> None:
        """The call ends: Twilio's view of it, then the `completed` callback; out of order, the
        held-back `in-progress` (late: must not regress the CDR) and a retried, stale `ringing`."""
        await self.keep_call(
            self.call_sid, Status="completed", EndTime=datetime.now(UTC).isoformat(), Duration=str(duration)
        )
        await self._status(
            "completed",
            extra={
                "CallDuration": str(duration),
                "Duration": str(math.ceil(duration / 60)),
                "SipResponseCode": "200",
            },
        )
        if self.phone.out_of_order:
            await self._status("in-progress", sequence=in_progress)
            await self._status("ringing", sequence=1)

    # -- HTTP ----------------------------------------------------------------------------------

    def _next_sequence(self) -> int:
        value = self.sequence
        self.sequence += 1
        return value

    async def _status(
        self, status: str, *, sequence: int | None = None, extra: Mapping[str, str] | None = None
    ) -> None:
        params = {
            **self.phone.base_params(self.call_sid),
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._next_sequence() if sequence is None else sequence),
            "Timestamp": rfc2822(),
            **(extra or {}),
        }
        url = self.phone.api_url.rstrip("/") + self.phone.status_path
        await self._post(f"status {status}", url, params)

    async def _recording(self, plan: CallPlan, streamed: Conversation, lead_in: float) -> PhoneRecording:
        """Make the recording as Twilio does, keep it where Twilio would serve it, then call back."""
        phone = self.phone
        # <Dial record-from-ringing> and <Start><Recording> record from the stream's start (answer)
        from_ringing = (plan.recording_mode or "").startswith("record-from-ringing")
        offset = 0.0 if from_ringing or plan.recording_source == START_RECORDING else lead_in
        start = round(offset * RATE)
        inbound, outbound = streamed.inbound[start:], streamed.outbound[start:]
        if plan.recording_max_seconds is not None:
            keep = int(plan.recording_max_seconds * RATE)
            inbound, outbound = inbound[:keep], outbound[:keep]
        if plan.recording_source == "RecordVerb":
            channels = [g711.ulaw_to_pcm16(inbound)]  # <Record> records the caller
        elif plan.recording_channels == 2:
            # record-*-dual: the parent call (the caller, inbound) first, the dialled leg second
            channels = [g711.ulaw_to_pcm16(inbound), g711.ulaw_to_pcm16(outbound)]
        else:
            both = wavfile.WavAudio(RATE, (g711.ulaw_to_pcm16(inbound), g711.ulaw_to_pcm16(outbound)), 1, 16)
            channels = [both.mono()]
        wav = wavfile.write_wav(channels, RATE)
        seconds = len(channels[0]) / 2 / RATE
        # On the call's own clock, where a stream second is a second (as the media timestamps and the
        # streamer's stream start are): at speed != 1 the wall clock would put it offset/speed in,
        # and the recordings Lambda's timestamp prior would miss the true offset.
        started = (self.stream_started_at or datetime.now(UTC)) + timedelta(seconds=offset)
        sid = "RE" + uuid.uuid4().hex
        base = (phone.twilio_api_url or "https://api.twilio.com").rstrip("/")
        url = f"{base}/{API_VERSION}/Accounts/{phone.account_sid}/Recordings/{sid}"
        recording = PhoneRecording(
            sid, url, plan.recording_source or "DialVerb", len(channels), offset, started, seconds, wav
        )
        if phone.twilio_api_url is not None:
            await self._keep_recording(recording)
        params = {
            "AccountSid": phone.account_sid,
            "CallSid": self.call_sid,
            "RecordingSid": sid,
            "RecordingUrl": url,
            "RecordingStatus": "completed",
            "RecordingDuration": str(int(seconds + 0.5)),
            "RecordingChannels": str(len(channels)),
            "RecordingStartTime": rfc2822(started),  # whole seconds: the sub-second part is lost
            "RecordingSource": recording.source,
            "RecordingTrack": "inbound" if plan.recording_source == "RecordVerb" else "both",
        }
        if plan.recording_callback is not None:
            await self._post("recording callback", plan.recording_callback, params)
        return recording

    async def _keep_recording(self, recording: PhoneRecording) -> None:
        """Hand the WAV to the Twilio REST stand-in (a stand-in-only PUT; Twilio keeps its own)."""
        params = {
            "CallSid": self.call_sid,
            "Source": recording.source,
            "Channels": str(recording.channels),
            "StartTime": recording.started_at.isoformat(),
            "Duration": f"{recording.duration_seconds:.3f}",
        }
        try:
            response = await self.http.put(
                recording.url + ".wav",
                params=params,
                content=recording.wav,
                headers={"Content-Type": "audio/x-wav"},
                auth=(self.phone.account_sid, self.phone.auth_token),
            )
        except httpx.HTTPError as exc:
            raise PhoneError(f"recording store: {recording.url} unreachable ({exc})") from exc
        self.phone.observer.step(
            "recording", f"{recording.sid} kept at the Twilio stand-in (HTTP {response.status_code})"
        )
        if response.status_code >= 300:
            raise PhoneError(f"recording store answered HTTP {response.status_code}: {response.text[:300]}")

    async def keep_call(self, call_sid: str, **fields: str) -> None:
        """Keep Twilio's view of a call at the Twilio REST stand-in (a stand-in-only PUT of the Call
        resource; Twilio keeps its own): the sweeper's reads then find it, and an agent's REST
        updates, which the phone follows. Nothing without `twilio_api_url`."""
        phone = self.phone
        if phone.twilio_api_url is None:
            return
        base = phone.twilio_api_url.rstrip("/")
        url = f"{base}/{API_VERSION}/Accounts/{phone.account_sid}/Calls/{call_sid}.json"
        try:
            response = await self.http.put(url, data=fields, auth=(phone.account_sid, phone.auth_token))
        except httpx.HTTPError as exc:
            raise PhoneError(f"call store: {url} unreachable ({exc})") from exc
        if response.status_code >= 300:
            raise PhoneError(f"call store answered HTTP {response.status_code}: {response.text[:300]}")

    async def _fetch(self, what: str, url: str, method: str, params: Mapping[str, str]) -> str:
        """A TwiML request (required to succeed): POST with a form, or GET with the parameters in
        the query, signed over the whole URL (Twilio signs a GET's URL and no body)."""
        if method == "POST":
            return await self._post(what, url, params, required=True)
        full = url + ("&" if urlsplit(url).query else "?") + urlencode(dict(params))
        headers = {
            "X-Twilio-Signature": self.phone.sign(full, {}),
            "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
            "User-Agent": "TwilioProxy/1.1 (callscribe simulated phone)",
        }
        try:
            response = await self.http.get(full, headers=headers)
        except httpx.HTTPError as exc:
            raise PhoneError(f"{what}: {url} unreachable ({exc})") from exc
        self.callbacks.append((what, response.status_code))
        self.phone.observer.step(what, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PhoneError(f"{what}: {url} answered HTTP {response.status_code}: {response.text[:300]}")
        return response.text

    async def _post(self, what: str, url: str, params: Mapping[str, str], *, required: bool = False) -> str:
        headers = {
            "X-Twilio-Signature": self.phone.sign(url, params),
            "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
            "User-Agent": "TwilioProxy/1.1 (callscribe simulated phone)",
        }
        try:
            response = await self.http.post(url, data=dict(params), headers=headers)
        except httpx.HTTPError as exc:
            raise PhoneError(f"{what}: {url} unreachable ({exc})") from exc
        self.callbacks.append((what, response.status_code))
        self.phone.observer.step(what, f"HTTP {response.status_code}")
        if response.status_code >= 400 and required:
            raise PhoneError(f"{what}: {url} answered HTTP {response.status_code}: {response.text[:300]}")
        return response.text

    # -- Media Stream --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connected(self, stream: StreamInstruction) -> AsyncIterator[ClientConnection]:
        """The stream's WebSocket, its upgrade signed as Twilio signs it (a refusal is Twilio's 31920)."""
        headers = {"X-Twilio-Signature": self.phone.sign(stream.url, {})}
        try:
            async with connect(
                stream.url,
                additional_headers=headers,
                compression=None,  # Twilio does not negotiate permessage-deflate
                proxy=None,
                user_agent_header="Twilio-MediaStreams/1.0 (callscribe simulated phone)",
                open_timeout=10,
            ) as ws:
                yield ws
        except InvalidStatus as exc:
            raise PhoneError(
                f"stream handshake refused with HTTP {exc.response.status_code} (Twilio error 31920)"
            ) from exc
        except OSError as exc:
            raise PhoneError(f"stream {stream.url} unreachable ({exc}) (Twilio error 31920)") from exc

    async def _stream(self, stream: StreamInstruction, conversation: Conversation) -> tuple[str, int]:
        phone = self.phone
        stream_sid = "MZ" + uuid.uuid4().hex
        tracks = _tracks_for(stream.track)
        async with self._connected(stream) as ws:
            phone.observer.step("stream", f"connected to {stream.url} ({stream_sid})")
            frames = await self._send_media(ws, stream, stream_sid, tracks, conversation)
        if self.stream_error is not None:
            phone.observer.step("stream", f"dropped after {frames} media messages: {self.stream_error}")
        else:
            phone.observer.step("stream", f"stopped after {frames} media messages")
        return stream_sid, frames

    async def _start(
        self, ws: ClientConnection, stream: StreamInstruction, stream_sid: str, tracks: tuple[str, ...]
    ) -> None:
        """`connected`, then `start` (sequence 1) with the stream's tracks and `<Parameter>`s."""
        phone = self.phone
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(
            json.dumps(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "start": {
                        "accountSid": phone.account_sid,
                        "streamSid": stream_sid,
                        "callSid": self.call_sid,
                        "tracks": list(tracks),
                        "customParameters": stream.parameters,
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
                    },
                    "streamSid": stream_sid,
                }
            )
        )

    async def _send_media(
        self,
        ws: ClientConnection,
        stream: StreamInstruction,
        stream_sid: str,
        tracks: tuple[str, ...],
        conversation: Conversation,
    ) -> int:
        phone = self.phone
        sequence = 1
        await self._start(ws, stream, stream_sid, tracks)
        audio = {"inbound": conversation.inbound, "outbound": conversation.outbound}
        chunks = dict.fromkeys(tracks, 0)
        total_frames = len(conversation.inbound) // FRAME_BYTES
        total_seconds = total_frames * FRAME_SECONDS
        frame_interval = FRAME_SECONDS / phone.speed
        started = time.monotonic()
        self.stream_started_at = datetime.now(UTC)
        hooks = sorted(phone.stream_hooks, key=lambda hook: hook[0])
        running: list[asyncio.Task[None]] = []
        sent = 0
        dropped = False
        for index in range(total_frames):
            # Pace by the clock, not by sleeping a fixed 20 ms: a slow send never makes us drift.
            due = started + index * frame_interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            while hooks and hooks[0][0] <= index * FRAME_SECONDS:
                running.append(asyncio.create_task(hooks.pop(0)[1]()))
            timestamp = str(index * 20)
            for track in () if dropped else tracks:  # dropped: the call goes on, paced, unstreamed
                frame = audio[track][index * FRAME_BYTES : (index + 1) * FRAME_BYTES]
                sequence += 1
                chunks[track] += 1
                try:
                    await ws.send(
                        json.dumps(
                            {
                                "event": "media",
                                "sequenceNumber": str(sequence),
                                "media": {
                                    "track": track,
                                    "chunk": str(chunks[track]),
                                    "timestamp": timestamp,
                                    "payload": base64.b64encode(frame).decode("ascii"),
                                },
                                "streamSid": stream_sid,
                            }
                        )
                    )
                except ConnectionClosed as exc:
                    # Twilio error 31921 (stream closed by the remote end): the stream ends, the
                    # call does not. The rest of the conversation is still spoken (and recorded).
                    dropped = True
                    self.stream_error = f"the WebSocket closed mid-call ({exc}) (Twilio error 31921)"
                    break
                sent += 1
            if index % 25 == 0 or index == total_frames - 1:
                phone.observer.streamed((index + 1) * FRAME_SECONDS, total_seconds)
        await self._finish_hooks(running, [action for _, action in hooks])
        if dropped:
            return sent  # no `stop`: there is no stream left to stop
        sequence += 1
        await ws.send(
            json.dumps(
                {
                    "event": "stop",
                    "sequenceNumber": str(sequence),
                    "stop": {"accountSid": phone.account_sid, "callSid": self.call_sid},
                    "streamSid": stream_sid,
                }
            )
        )
        return sent

    async def _finish_hooks(
        self, running: list[asyncio.Task[None]], pending: list[Callable[[], Coroutine[Any, Any, None]]]
    ) -> None:
        """Hooks timed past the end of the stream run now, in order; every hook is awaited."""
        for action in pending:
            running.append(asyncio.create_task(action()))
        failures = [r for r in await asyncio.gather(*running, return_exceptions=True) if r is not None]
        if failures:
            raise PhoneError(f"a stream hook failed: {failures[0]!r}") from failures[0]


# statusCallbackEvent names → the CallStatus each one reports
LEG_STATUS = {
    "initiated": "initiated",
    "ringing": "ringing",
    "answered": "in-progress",
    "completed": "completed",
}


class _DialledLeg:
    """The `<Dial>`ed party's call as Twilio reports it: its own SID and callback sequence, the
    parent's SID, `Direction=outbound-dial`, from the caller ID Twilio presents, to the number dialled.
    The dialled party always answers (after the phone's ring time) and hangs up when the caller does."""

    def __init__(self, call: _CallSession, leg: DialLeg, number: str) -> None:
        self.call = call
        self.leg = leg
        self.number = number
        self.call_sid = "CA" + uuid.uuid4().hex
        self.sequence = 0

    async def answer_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        answered = datetime.now(UTC).isoformat()
        await self.call.keep_call(self.call_sid, Status="in-progress", StartTime=answered)
        await self.report("answered")

    async def complete(self, duration_seconds: int) -> None:
        await self.call.keep_call(
            self.call_sid,
            Status="completed",
            EndTime=datetime.now(UTC).isoformat(),
            Duration=str(duration_seconds),
        )
        await self.report(
            "completed",
            {
                "CallDuration": str(duration_seconds),
                "Duration": str(math.ceil(duration_seconds / 60)),
                "SipResponseCode": "200",
            },
        )

    @property
    def caller(self) -> str:
        return self.leg.caller_id or self.call.phone.caller.from_number

    async def begin(self) -> None:
        await self.call.keep_call(
            self.call_sid,
            Status="ringing",
            Direction="outbound-dial",
            From=self.caller,
            To=self.number,
            ParentCallSid=self.call.call_sid,
        )
        await self.report("initiated")
        await self.report("ringing")

    async def report(self, event: str, extra: Mapping[str, str] | None = None) -> None:
        """Post the event's status callback if the TwiML asked for it (its sequence counts either way)."""
        sequence = self.sequence
        self.sequence += 1
        if event not in self.leg.events:
            return
        phone = self.call.phone
        caller = self.caller
        params = {
            "AccountSid": phone.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call_sid,
            "ParentCallSid": self.call.call_sid,
            "Direction": "outbound-dial",
            "From": caller,
            "Caller": caller,
            "To": self.number,
            "Called": self.number,
            "CallStatus": LEG_STATUS[event],
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822(),
            **(extra or {}),
        }
        await self.call._post(f"leg status {LEG_STATUS[event]}", self.leg.status_callback, params)


def _one_turn(conversation: Conversation) -> AgentScript:
    """A plain call's caller audio, spoken to the agent as one turn (Twilio carries only the caller's
    track on a bidirectional stream: what the other party would have said is not used)."""
    return AgentScript((CallerTurn(conversation.inbound, "the caller's audio"),))


def _tracks_for(track_attribute: str) -> tuple[str, ...]:
    return {
        "inbound_track": ("inbound",),
        "outbound_track": ("outbound",),
        "both_tracks": ("inbound", "outbound"),
    }.get(track_attribute, ("inbound",))
