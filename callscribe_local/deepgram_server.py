"""A local stand-in for Deepgram's live speech-to-text WebSocket (`/v1/listen`) and TTS (`/v1/speak`).

Listen: `Token` auth at the handshake, binary mu-law in, `Results` / `Metadata` / `UtteranceEnd`
out, `KeepAlive`, `Finalize`, `CloseStream`, idle close; what it hears is a pluggable `Recognizer`
(scripted in tests, pocketsphinx in the demo). Speak: `Speak` / `Flush` / `Clear` / `Close`, with a
tone for audio. The same port answers plain HTTP (`POST /v1/listen`: deepgram_prerecorded.py),
each connection routed by its first request. Tests script faults (refusals, drops, delays, an
outage, also over `POST /_local/outage`) and read every connection's record.
Must keep: the wire shapes of tests/fixtures/deepgram/ (Deepgram's docs and captures), its error
bodies and close codes. What is faithful and what is not: docs/local.md, "The parts".
Over 350 lines: two WebSocket protocols, the first-request router and the fault knobs tests need.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from callscribe_local.deepgram_prerecorded import (
    HttpAnswer,
    HttpConnection,
    HttpRequest,
    PrerecordedApi,
    error_answer,
    json_answer,
)
from callscribe_local.recognizer import Hypothesis, RecognizerBusyError, RecognizerFactory

SUPPORTED_ENCODINGS = {"mulaw", "linear16", "alaw", "opus", "flac", "amr-nb", "amr-wb", "speex", "g729"}
MODEL_INFO = {"name": "3-general-nova", "version": "2025-01-01.0", "arch": "nova-3"}
MODEL_UUID = "40bd3654-e622-47c4-a111-63a61b23bd3f"

OUTAGE_PATH = "/_local/outage"  # stand-in only: not a Deepgram endpoint
_SNIFF_LIMIT = 64 * 1024

_HANDSHAKE_ERRORS = {
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: ("ASR_PAYMENT_REQUIRED", "Project does not have enough credits for an ASR request."),
    403: ("INSUFFICIENT_PERMISSIONS", "Project does not have access to the requested model."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
}


@dataclass
class ConnectionRecord:
    """What one accepted connection saw, for tests to assert on."""

    params: dict[str, str]
    multi_params: list[tuple[str, str]]
    received: bytearray = field(default_factory=bytearray)
    control: list[str] = field(default_factory=list)  # KeepAlive / Finalize / CloseStream, in order
    finals_sent: list[dict[str, Any]] = field(default_factory=list)
    speech_started_sent: list[dict[str, Any]] = field(default_factory=list)  # with vad_events=true
    close_code: int | None = None
    close_reason: str = ""
    dropped: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _DropPlan:
    after_bytes: int
    mode: str
    remaining: int


class DeepgramStandIn:
    def __init__(
        self,
        recognizer_factory: RecognizerFactory,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        idle_timeout: float = 10.0,
    ) -> None:
        self._factory = recognizer_factory
        self._host = host
        self._port = port
        self.api_key = api_key
        self.idle_timeout = idle_timeout
        self.connections: list[ConnectionRecord] = []
        self.handshakes = 0  # every upgrade attempt, accepted or refused
        self.refused: list[int] = []
        self._refuse_next: list[int] = []
        self._always_status: int | None = None
        self._accept_delay = 0.0
        self._stopping: asyncio.Event | None = None  # set by stop(): delayed handshakes stop waiting
        self._drop_plan: _DropPlan | None = None
        self._open: dict[ServerConnection, ConnectionRecord] = {}
        self._server: Server | None = None
        self.speak_connections: list[SpeakRecord] = []
        self.speak = SpeakOptions()
        self._speak_open: set[ServerConnection] = set()
        self._outage: tuple[int, str | None] | None = None  # (handshake status, drop mode)
        self.outages: list[tuple[str, float]] = []  # ("begin" | "end", time.monotonic())
        self.prerecorded = PrerecordedApi(
            recognizer_factory,
            api_key=lambda: self.api_key,
            model_info=dict(getattr(recognizer_factory, "model_info", MODEL_INFO)),
        )
        self._http_open: set[HttpConnection] = set()

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}"

    @property
    def http_url(self) -> str:
        """The same server, for plain HTTP (the pre-recorded API)."""
        return f"http://{self._host}:{self.port}"

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._process_request,
            compression=None,
            max_size=2**20,
            create_connection=cast(Any, self._route_connection),
        )

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # a handshake held by `delay_handshakes` ends now (websockets: 503)
        for http in list(self._http_open):
            http.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _route_connection(self, protocol: Any, server: Server, **options: Any) -> asyncio.Protocol:
        """websockets' `create_connection` hook: a protocol that reads the first request's head and
        then hands the transport to the WebSocket server (an upgrade) or to the HTTP side."""

        def max_body() -> int:
            return self.prerecorded.max_body_bytes

        return _FirstRequestRouter(
            lambda: ServerConnection(protocol, server, **options),
            lambda: HttpConnection(self._http_route, max_body, self._http_open),
        )

    async def _http_route(self, request: HttpRequest) -> HttpAnswer:
        if request.path == "/v1/listen":
            return await self.prerecorded.listen(request)
        if request.path == OUTAGE_PATH:
            return await self._outage_control(request)
        return error_answer(404)

    async def __aenter__(self) -> DeepgramStandIn:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- fault injection ---------------------------------------------------------------------------

    def refuse_next(self, count: int, status: int = 503) -> None:
        """The next `count` handshakes get `status` (5xx: the client should retry)."""
        self._refuse_next.extend([status] * count)

    def answer_all(self, status: int | None) -> None:
        """Every handshake gets `status` (401/402/403…) until called with None."""
        self._always_status = status

    def delay_handshakes(self, seconds: float) -> None:
        """Accept upgrades only after `seconds` (a slow Deepgram: audio must be buffered meanwhile)."""
        self._accept_delay = seconds

    def drop_after_bytes(self, after_bytes: int, mode: str = "abrupt", connections: int = 1) -> None:
        """The next `connections` connections are dropped once each has received `after_bytes` bytes."""
        self._drop_plan = _DropPlan(after_bytes, mode, connections)

    async def drop_all(self, mode: str = "abrupt") -> None:
        """Drop every open connection: `abrupt` (TCP reset, no close frame) or `net0000` (close 1011)."""
        for ws, record in list(self._open.items()):
            await self._drop(ws, record, mode)

    def drop_speak(self) -> None:
        """Abort every open TTS connection (TCP reset, no close frame): the client must reconnect."""
        for ws in list(self._speak_open):
            ws.transport.abort()

    async def begin_outage(self, status: int = 503, drop: str | None = "net0000") -> None:
        """Deepgram's live API goes down: every open listen connection is dropped (`drop`: "net0000"
        for close 1011, "abrupt" for a TCP reset, None to leave them) and every new listen
        handshake is refused with `status` until `end_outage()`. Speak and pre-recorded requests
        are not affected."""
        self._outage = (status, drop)
        self.outages.append(("begin", time.monotonic()))
        if drop is not None:
            for ws, record in list(self._open.items()):
                await self._drop(ws, record, drop)

    def end_outage(self) -> None:
        self._outage = None
        self.outages.append(("end", time.monotonic()))

    @property
    def outage_active(self) -> bool:
        return self._outage is not None

    async def _outage_control(self, request: HttpRequest) -> HttpAnswer:
        """`POST /_local/outage` with `{"action": "begin", "status": 503, "drop": "net0000"}` or
        `{"action": "end"}`; `Authorization: Token KEY` as for the API."""
        if self.api_key is not None and request.headers.get("authorization") != f"Token {self.api_key}":
            return error_answer(401)
        if request.method != "POST":
            return error_answer(405)
        try:
            doc = json.loads(request.body or b"{}")
            action = doc["action"]
            status = int(doc.get("status", 503))
            drop = doc.get("drop", "net0000")
        except (ValueError, KeyError, TypeError):
            return error_answer(400, 'Bad Request: expected {"action": "begin" | "end", ...}')
        if action == "begin" and drop in ("net0000", "abrupt", None):
            await self.begin_outage(status, drop)
        elif action == "end":
            self.end_outage()
        else:
            return error_answer(400, f"Bad Request: unknown action {action!r} or drop {drop!r}")
        return json_answer(200, {"outage": self.outage_active})

    async def wait_until(self, predicate: Callable[[], bool], within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached on the Deepgram stand-in")
            await asyncio.sleep(0.01)

    # ---- handshake ---------------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if self._accept_delay and self._stopping is not None:
            # held like a slow Deepgram, but not past stop(): the server's close waits for handshakes
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._accept_delay)
        path = urlsplit(request.path).path
        if path not in ("/v1/listen", "/v1/speak"):
            return self._error(connection, 404, "NOT_FOUND", "Not found.")
        status = self._always_status
        if status is None and self._outage is not None and path == "/v1/listen":
            status = self._outage[0]
        if status is None and self._refuse_next:
            status = self._refuse_next.pop(0)
        authorized = request.headers.get("Authorization") == f"Token {self.api_key}"
        if status is None and self.api_key is not None and not authorized:
            status = 401
        if status is None and path == "/v1/listen" and not self._recognizer_available():
            status = 429  # Deepgram's answer to a stream over the project's concurrency limit
        if status is not None:
            code, message = _HANDSHAKE_ERRORS.get(status, ("INTERNAL_SERVER_ERROR", "Internal server error."))
            return self._error(connection, status, code, message)
        return None

    def _recognizer_available(self) -> bool:
        available = getattr(self._factory, "available", None)
        return bool(available()) if callable(available) else True

    def _error(self, connection: ServerConnection, status: int, code: str, message: str) -> Response:
        self.refused.append(status)
        request_id = str(uuid.uuid4())
        body = json.dumps({"err_code": code, "err_msg": message, "request_id": request_id})
        response = connection.respond(HTTPStatus(status), body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        response.headers["dg-request-id"] = request_id
        response.headers["dg-error"] = message
        return response

    # ---- one connection ----------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = urlsplit(ws.request.path).query
        multi = parse_qsl(query, keep_blank_values=True)
        params = dict(multi)
        if urlsplit(ws.request.path).path == "/v1/speak":
            speak = SpeakRecord(params=params)
            self.speak_connections.append(speak)
            self._speak_open.add(ws)
            try:
                await _SpeakSession(self.speak, ws, speak).run()
            except ConnectionClosed:
                pass
            finally:
                self._speak_open.discard(ws)
                speak.close_code = ws.close_code
                speak.closed.set()
            return
        record = ConnectionRecord(params=params, multi_params=multi)
        self.connections.append(record)
        try:
            # Built after the handshake, not in it, so that every recognizer built is closed below.
            recognizer = self._factory(params)
        except RecognizerBusyError:
            # Another handshake took the last slot since ours was checked: 1013 is "try again later".
            record.close_code, record.close_reason = 1013, "TOO_MANY_REQUESTS"
            record.closed.set()
            await ws.close(1013, "TOO_MANY_REQUESTS: too many concurrent requests")
            return
        self._open[ws] = record
        session = _Session(self, ws, record, recognizer)
        try:
            await session.run()
        except ConnectionClosed:
            pass
        finally:
            self._open.pop(ws, None)
            close = getattr(recognizer, "close", None)
            if callable(close):
                close()  # give back what it holds (a pooled decoder), however the connection ended
            if record.close_code is None:
                record.close_code = ws.close_code
                record.close_reason = ws.close_reason or ""
            record.closed.set()

    async def _drop(self, ws: ServerConnection, record: ConnectionRecord, mode: str) -> None:
        record.dropped = True
        if mode == "abrupt":
            record.close_code = 1006
            ws.transport.abort()
        else:
            record.close_code = 1011
            await ws.close(1011, "NET-0000: the service did not transmit a Text frame in time")

    def _maybe_drop(self, ws: ServerConnection, record: ConnectionRecord) -> Awaitable[None] | None:
        plan = self._drop_plan
        if plan is None or plan.remaining <= 0 or record.dropped or len(record.received) < plan.after_bytes:
            return None
        plan.remaining -= 1
        return self._drop(ws, record, plan.mode)


class _FirstRequestRouter(asyncio.Protocol):
    """Holds a new connection until its request head is in, then gives the transport (and the
    bytes read so far) to the protocol that serves that kind of request."""

    def __init__(
        self, websocket: Callable[[], asyncio.Protocol], http: Callable[[], asyncio.Protocol]
    ) -> None:
        self._websocket = websocket
        self._http = http
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 and len(self._buffer) < _SNIFF_LIMIT:
            return
        head = bytes(self._buffer[: end if end >= 0 else _SNIFF_LIMIT]).lower()
        upgrade = any(
            line.startswith(b"upgrade:") and b"websocket" in line for line in head.split(b"\r\n")[1:]
        )
        protocol = self._websocket() if upgrade else self._http()
        assert self._transport is not None
        self._transport.set_protocol(protocol)
        protocol.connection_made(self._transport)
        protocol.data_received(bytes(self._buffer))

    def connection_lost(self, exc: Exception | None) -> None:
        return None  # closed before it said what it wanted: nothing was started


class _Session:
    def __init__(
        self, server: DeepgramStandIn, ws: ServerConnection, record: ConnectionRecord, recognizer: Any
    ) -> None:
        self.server = server
        self.ws = ws
        self.record = record
        self.recognizer = recognizer
        self.request_id = str(uuid.uuid4())
        self.interim = record.params.get("interim_results") == "true"
        self.utterance_end = "utterance_end_ms" in record.params
        self.vad_events = record.params.get("vad_events") == "true"
        self.in_speech = False  # VAD: SpeechStarted sent, the stretch's speech_final not yet
        self.channels = 1

    async def run(self) -> None:
        ws, record = self.ws, self.record
        encoding = record.params.get("encoding")
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=self.server.idle_timeout)
            except TimeoutError:
                await self._send(self._metadata())
                await self._close(
                    1011,
                    "Deepgram did not receive audio data or a text message within the "
                    "timeout window. See https://dpgr.am/net0001",
                )
                return
            if isinstance(message, bytes):
                if encoding is not None and encoding not in SUPPORTED_ENCODINGS:
                    await self._close(1008, "DATA-0000: the payload cannot be decoded as audio")
                    return
                record.received.extend(message)
                await self._emit(self.recognizer.accept(message))
                drop = self.server._maybe_drop(ws, record)
                if drop is not None:
                    await drop
                    return
                continue
            try:
                control = json.loads(message)
                kind = control["type"]
            except (ValueError, KeyError, TypeError):
                continue  # Deepgram ignores text it does not understand
            record.control.append(str(kind))
            if kind == "Finalize":
                await self._emit(self.recognizer.finalize(), from_finalize=True)
            elif kind == "CloseStream":
                await self._emit(self.recognizer.finalize(), from_finalize=True)
                await self._send(self._metadata())
                await self._close(1000, "")
                return

    async def _emit(self, hypotheses: list[Hypothesis], from_finalize: bool = False) -> None:
        for hyp in hypotheses:
            if self.vad_events and hyp.words and not self.in_speech:
                # Deepgram's VAD speaks first: SpeechStarted precedes any Results of the stretch
                self.in_speech = True
                started = {"type": "SpeechStarted", "channel": [0], "timestamp": round(hyp.words[0].start, 3)}
                self.record.speech_started_sent.append(started)
                await self._send(started)
            if hyp.is_final and hyp.speech_final:
                self.in_speech = False
            if not hyp.is_final and not self.interim:
                continue
            doc = self._results(hyp, from_finalize or hyp.from_finalize)
            if hyp.is_final:
                self.record.finals_sent.append(doc)
            await self._send(doc)
            if hyp.is_final and hyp.speech_final and self.utterance_end and hyp.words:
                await self._send(
                    {"channel": [0, 1], "last_word_end": hyp.words[-1].end, "type": "UtteranceEnd"}
                )

    def _results(self, hyp: Hypothesis, from_finalize: bool) -> dict[str, Any]:
        words = [
            {
                "word": w.word.lower().strip(".,?!"),
                "start": round(w.start, 6),
                "end": round(w.end, 6),
                "confidence": w.confidence,
                "punctuated_word": w.word,
            }
            for w in hyp.words
        ]
        confidence = min((w.confidence for w in hyp.words), default=0.0)
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(hyp.duration, 6),
            "start": round(hyp.start, 6),
            "is_final": hyp.is_final,
            "speech_final": hyp.speech_final,
            "channel": {
                "alternatives": [{"transcript": hyp.transcript, "confidence": confidence, "words": words}]
            },
            "metadata": {"request_id": self.request_id, "model_info": MODEL_INFO, "model_uuid": MODEL_UUID},
            "from_finalize": from_finalize,
        }

    def _metadata(self) -> dict[str, Any]:
        duration = len(self.record.received) / 8000
        doc: dict[str, Any] = {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": "incomplete",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": round(duration, 6),
            "channels": self.channels,
        }
        if duration:
            doc["models"] = [MODEL_UUID]
            doc["model_info"] = {MODEL_UUID: MODEL_INFO}
        return doc

    async def _send(self, doc: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(doc))

    async def _close(self, code: int, reason: str) -> None:
        self.record.close_code = code
        self.record.close_reason = reason
        await self.ws.close(code, reason)


# ---- text to speech (/v1/speak) -------------------------------------------------------------------


@dataclass
class SpeakOptions:
    """How the TTS stand-in answers: audio length per character, chunking, pacing, first-byte delay."""

    bytes_per_char: int = 40
    chunk_bytes: int = 800
    chunk_interval: float = 0.0  # seconds between audio chunks (0: as fast as the socket takes them)
    first_audio_delay: float = 0.0  # the vendor's own latency before the first chunk of a flush


@dataclass
class SpeakRecord:
    """What one TTS connection saw, for tests to assert on."""

    params: dict[str, str]
    flushed_texts: list[str] = field(default_factory=list)
    control: list[str] = field(default_factory=list)  # Speak / Flush / Clear / Close, in order
    close_code: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def tone_bytes(count: int, offset: int = 0) -> bytes:
    """`count` bytes of a 500 Hz mu-law tone (16-sample period), never the 0xFF silence byte."""
    period = (0x80, 0x9A, 0xA6, 0x9A, 0x80, 0x1A, 0x26, 0x1A) * 2
    return bytes(period[(offset + i) % len(period)] for i in range(count))


class _SpeakSession:
    def __init__(self, options: SpeakOptions, ws: ServerConnection, record: SpeakRecord) -> None:
        self.options = options
        self.ws = ws
        self.record = record
        self.text: list[str] = []
        self.sequence = 0
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.generation = 0  # bumped by Clear: audio of an older generation is not sent

    async def run(self) -> None:
        synth = asyncio.create_task(self._synthesize())
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    continue
                try:
                    doc = json.loads(message)
                    kind = str(doc["type"])
                except (ValueError, KeyError, TypeError):
                    await self._send({"type": "Warning", "description": "Unknown message", "code": "UNKNOWN"})
                    continue
                self.record.control.append(kind)
                if kind == "Speak":
                    self.text.append(str(doc.get("text", "")))
                elif kind == "Flush":
                    text, self.text = "".join(self.text), []
                    self.record.flushed_texts.append(text)
                    await self.queue.put(text)
                elif kind == "Clear":
                    self.text = []
                    self.generation += 1
                    while not self.queue.empty():
                        self.queue.get_nowait()
                    self.sequence += 1
                    await self._send({"type": "Cleared", "sequence_id": self.sequence})
                elif kind == "Close":
                    await self.ws.close(1000, "")
                    return
        finally:
            synth.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await synth

    async def _synthesize(self) -> None:
        opts = self.options
        while True:
            text = await self.queue.get()
            if text is None:
                return
            generation = self.generation
            if opts.first_audio_delay:
                await asyncio.sleep(opts.first_audio_delay)
            total = len(text) * opts.bytes_per_char
            sent = 0
            while sent < total and generation == self.generation:
                piece = tone_bytes(min(opts.chunk_bytes, total - sent), sent)
                with contextlib.suppress(ConnectionClosed):
                    await self.ws.send(piece)
                sent += len(piece)
                if opts.chunk_interval:
                    await asyncio.sleep(opts.chunk_interval)
            if generation == self.generation:
                self.sequence += 1
                await self._send({"type": "Flushed", "sequence_id": self.sequence})

    async def _send(self, doc: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(doc))
