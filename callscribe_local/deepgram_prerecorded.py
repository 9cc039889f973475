"""Deepgram's pre-recorded API (`POST /v1/listen`), served on the live stand-in's own port.

`DeepgramStandIn` routes each connection by its first request (deepgram_server.py); this module is
the HTTP side: the audio as the body (WAV of any kind this project reads, or headerless audio
described by `encoding`, `sample_rate`, `channels`), `multichannel`, `utterances`, `punctuate`, and
Deepgram's JSON answer (`build_response`, the shape deepgram-sdk's `ListenV1Response` validates).
Must keep: `Token` auth as live; errors in Deepgram's shape (400 for a body it cannot decode, 413
over `max_body_bytes`); recognition never on the event loop, with recognisers from the stand-in's
own factory (so one decoder pool for live and pre-recorded, 429 when it is full); word times in
seconds from the start of the file, per channel. Parameters, errors and fault injection:
docs/local.md, "Recordings", "Transcribing it".
Over 350 lines: a small HTTP server of its own, audio decoding and Deepgram's response shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from callscribe_local import g711, wavfile
from callscribe_local.recognizer import Hypothesis, RecognizerBusyError, RecognizerFactory, Word

PHONE_RATE = 8000  # what every recogniser here hears: 8 kHz mu-law, as live
MAX_BODY_BYTES = 512 * 2**20  # Deepgram takes up to 2 GB; a local stand-in does not need that much
MAX_HEAD_BYTES = 64 * 1024
CORRUPT = "Bad Request: failed to process audio: corrupt or unsupported data"

ERRORS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", CORRUPT),
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: ("ASR_PAYMENT_REQUIRED", "Project does not have enough credits for an ASR request."),
    403: ("INSUFFICIENT_PERMISSIONS", "Project does not have access to the requested model."),
    404: ("NOT_FOUND", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed."),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
    500: ("INTERNAL_SERVER_ERROR", "Internal server error."),
    502: ("BAD_GATEWAY", "Bad gateway."),
    503: ("SERVICE_UNAVAILABLE", "Service unavailable."),
    504: ("GATEWAY_TIMEOUT", "Gateway timeout."),
}
_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
_RAW_ENCODINGS = {"linear16": 2, "mulaw": 1, "alaw": 1}


# ---- a minimal HTTP/1.1 server side, for the connections that are not WebSocket upgrades ---------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    body_length: int  # bytes received (the body is dropped, not kept, past the size cap)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False  # drop the connection instead of answering (a scripted network failure)


def json_answer(status: int, doc: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    return HttpAnswer(status, json.dumps(doc).encode(), (("Content-Type", "application/json"), *headers))


def error_answer(status: int, message: str | None = None) -> HttpAnswer:
    """Deepgram's error body and headers (`dg-request-id`, `dg-error`), as the live handshake has."""
    code, default = ERRORS.get(status, ("INTERNAL_SERVER_ERROR", "Internal server error."))
    request_id = str(uuid.uuid4())
    text = message or default
    doc = {"err_code": code, "err_msg": text, "request_id": request_id}
    return json_answer(status, doc, (("dg-request-id", request_id), ("dg-error", text)))


Route = Callable[[HttpRequest], Awaitable[HttpAnswer]]


class HttpConnection(asyncio.Protocol):
    """One plain HTTP connection: reads a request (Content-Length or chunked body, with a size
    cap), answers it through `route` on the event loop, and closes (`Connection: close`)."""

    def __init__(self, route: Route, max_body: Callable[[], int], tracker: set[HttpConnection]) -> None:
        self._route = route
        self._max_body = max_body
        self._tracker = tracker
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._head: tuple[str, str, dict[str, str]] | None = None
        self._body = bytearray()
        self._received = 0
        self._remaining: int | None = None  # Content-Length bytes still expected
        self._chunked = False
        self._chunk_left = 0  # bytes of the current chunk still to read (chunked bodies)
        self._chunk_trailer = False
        self._task: asyncio.Task[None] | None = None
        self._answered = False

    # asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._tracker.add(self)

    def data_received(self, data: bytes) -> None:
        if self._task is not None or self._answered:
            return  # one request per connection: anything after it is ignored
        self._buffer += data
        if self._head is None and not self._read_head():
            return
        if self._read_body():
            self._dispatch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._tracker.discard(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # parsing --------------------------------------------------------------------------------------

    def _read_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._answer_now(error_answer(400, "Bad Request: request head too large"))
            return False
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self._answer_now(error_answer(400, "Bad Request: malformed request line"))
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._head = (method, target, headers)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        else:
            try:
                self._remaining = int(headers.get("content-length") or 0)
            except ValueError:
                self._answer_now(error_answer(400, "Bad Request: invalid Content-Length"))
                return False
        if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _keep(self, data: bytes | bytearray) -> None:
        self._received += len(data)
        if self._received <= self._max_body():
            self._body += data
        else:
            self._body.clear()  # over the cap: count the rest, keep none of it (413 at the end)

    def _read_body(self) -> bool:
        """True once the whole body is in."""
        if not self._chunked:
            assert self._remaining is not None
            take = bytes(self._buffer[: self._remaining])
            del self._buffer[: len(take)]
            self._keep(take)
            self._remaining -= len(take)
            return self._remaining == 0
        while True:
            if self._chunk_left > 0:
                take = bytes(self._buffer[: self._chunk_left])
                del self._buffer[: len(take)]
                self._keep(take)
                self._chunk_left -= len(take)
                if self._chunk_left > 0:
                    return False
                self._chunk_trailer = True
            if self._chunk_trailer:
                if len(self._buffer) < 2:
                    return False
                del self._buffer[:2]  # the CRLF after a chunk's data
                self._chunk_trailer = False
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                return False
            size_text = bytes(self._buffer[:line_end]).split(b";", 1)[0].strip()
            del self._buffer[: line_end + 2]
            try:
                size = int(size_text, 16)
            except ValueError:
                self._answer_now(error_answer(400, "Bad Request: malformed chunked body"))
                return False
            if size == 0:
                return True  # trailers, if any, are ignored
            self._chunk_left = size

    # answering ------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        assert self._head is not None
        method, target, headers = self._head
        request = HttpRequest(method, target, headers, bytes(self._body), self._received)
        self._task = asyncio.get_running_loop().create_task(self._serve(request))

    async def _serve(self, request: HttpRequest) -> None:
        if request.body_length > self._max_body():
            answer = error_answer(413, f"Payload too large: the stand-in takes {self._max_body()} bytes")
        else:
            try:
                answer = await self._route(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a stand-in bug must still answer, as a 500
                answer = error_answer(500, f"Internal server error: {exc!r}")
        self._answer_now(answer)

    def _answer_now(self, answer: HttpAnswer) -> None:
        self._answered = True
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if answer.reset:
            transport.abort()
            return
        reason = _REASONS.get(answer.status, "Unknown")
        head = [f"HTTP/1.1 {answer.status} {reason}"]
        head += [f"{name}: {value}" for name, value in answer.headers]
        head += [f"Content-Length: {len(answer.body)}", "Connection: close", "", ""]
        transport.write("\r\n".join(head).encode("latin-1") + answer.body)
        transport.close()


# ---- the pre-recorded API -------------------------------------------------------------------------


@dataclass
class PrerecordedRecord:
    """What one `POST /v1/listen` asked and got, for tests to assert on."""

    params: dict[str, str]
    multi_params: list[tuple[str, str]]
    content_type: str
    body_bytes: int
    status: int = 0
    channels: int = 0
    duration: float = 0.0
    request_id: str = ""
    response: dict[str, Any] | None = None


@dataclass
class _Script:
    fail_next: list[int] = field(default_factory=list)  # statuses; 0 = reset the connection
    always: int | None = None
    delay: float = 0.0


class PrerecordedApi:
    """`POST /v1/listen` for `DeepgramStandIn`: auth, decoding, recognition, Deepgram's JSON."""

    def __init__(
        self,
        factory: RecognizerFactory,
        api_key: Callable[[], str | None],
        model_info: dict[str, str],
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._factory = factory
        self._api_key = api_key
        self.model_info = dict(model_info)
        self.model_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"callscribe-local:{self.model_info['name']}"))
        self.max_body_bytes = max_body_bytes
        self.requests: list[PrerecordedRecord] = []
        self._script = _Script()

    # fault injection -------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next `count` requests (after the auth check) are answered `status` with Deepgram's
        error body: 5xx and 429 are worth a retry, 4xx are not."""
        self._script.fail_next.extend([status] * count)

    def reset_next(self, count: int = 1) -> None:
        """The next `count` requests get no answer: the connection is dropped (a network failure)."""
        self._script.fail_next.extend([0] * count)

    def answer_all(self, status: int | None) -> None:
        """Every request is answered `status` until called with None."""
        self._script.always = status

    def delay(self, seconds: float) -> None:
        """Answer only after `seconds` (a slow Deepgram: clients' timeouts can be tested)."""
        self._script.delay = seconds

    # the endpoint ----------------------------------------------------------------------------------

    async def listen(self, request: HttpRequest) -> HttpAnswer:
        multi = request.query
        params = dict(multi)
        record = PrerecordedRecord(
            params, multi, request.headers.get("content-type", ""), request.body_length
        )
        self.requests.append(record)
        answer = await self._listen(request, params, record)
        record.status = answer.status
        return answer

    async def _listen(
        self, request: HttpRequest, params: dict[str, str], record: PrerecordedRecord
    ) -> HttpAnswer:
        key = self._api_key()
        if key is not None and request.headers.get("authorization") != f"Token {key}":
            return error_answer(401)
        scripted = self._script.always
        if scripted is None and self._script.fail_next:
            scripted = self._script.fail_next.pop(0)
        if self._script.delay:
            await asyncio.sleep(self._script.delay)
        if scripted == 0:
            return HttpAnswer(0, reset=True)
        if scripted is not None:
            return error_answer(scripted)
        if request.method != "POST":
            return error_answer(405)
        if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
            return error_answer(400, "Bad Request: the local stand-in takes the audio in the body, not a URL")
        try:
            audio = await asyncio.to_thread(decode_audio, request.body, params)
        except wavfile.WavError as exc:
            return error_answer(400, f"{CORRUPT} ({exc})")
        multichannel = params.get("multichannel") == "true"
        tracks = list(audio.channels) if multichannel else [audio.mono()]
        phone_tracks = [g711.pcm16_to_ulaw(wavfile.resample(t, audio.rate, PHONE_RATE)) for t in tracks]
        recognizers: list[Any] = []
        try:
            for _ in phone_tracks:
                recognizers.append(self._factory(params))
        except RecognizerBusyError:
            for recognizer in recognizers:
                _close(recognizer)
            return error_answer(429)
        heard = await asyncio.gather(
            *(asyncio.to_thread(recognize, r, t) for r, t in zip(recognizers, phone_tracks, strict=True))
        )
        request_id = str(uuid.uuid4())
        doc = build_response(
            heard,
            request_id=request_id,
            sha256=hashlib.sha256(request.body).hexdigest(),
            duration=audio.seconds,
            model_uuid=self.model_uuid,
            model_info=self.model_info,
            punctuate=params.get("punctuate") == "true" or params.get("smart_format") == "true",
            utterances=params.get("utterances") == "true",
        )
        record.channels, record.duration, record.request_id, record.response = (
            len(tracks),
            audio.seconds,
            request_id,
            doc,
        )
        return json_answer(200, doc, (("dg-request-id", request_id),))


def decode_audio(body: bytes, params: dict[str, str]) -> wavfile.WavAudio:
    """The request body as audio: a WAV, or headerless audio described by the query parameters."""
    if not body:
        raise wavfile.WavError("empty body")
    if body[:4] == b"RIFF":
        audio = wavfile.read_wav(body, strict=False)  # a cut-off file is transcribed as far as it goes
    else:
        encoding = params.get("encoding")
        if encoding not in _RAW_ENCODINGS:
            raise wavfile.WavError("not a WAV, and no encoding=linear16|mulaw|alaw for raw audio")
        try:
            rate = int(params.get("sample_rate", ""))
            channels = int(params.get("channels", "1"))
        except ValueError as exc:
            raise wavfile.WavError("raw audio needs sample_rate (and channels) as integers") from exc
        if rate < 1 or channels < 1:
            raise wavfile.WavError("sample_rate and channels must be positive")
        width = _RAW_ENCODINGS[encoding]
        tag = {
            "linear16": wavfile.WAVE_FORMAT_PCM,
            "mulaw": wavfile.WAVE_FORMAT_MULAW,
            "alaw": wavfile.WAVE_FORMAT_ALAW,
        }[encoding]
        audio = wavfile.read_wav(_wrap(body, tag, rate, channels, width), strict=False)
    if audio.frames == 0:
        raise wavfile.WavError("no audio in the file")
    return audio


def _wrap(raw: bytes, tag: int, rate: int, channels: int, width: int) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * width * channels, width * channels, 8 * width)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(raw))
    return b"RIFF" + struct.pack("<I", len(body) + len(raw)) + body + raw


def recognize(recognizer: Any, mulaw: bytes) -> list[Hypothesis]:
    """All of one channel through one recogniser (in a worker thread); the recogniser is closed
    (its pooled decoder given back) however this ends. Only final hypotheses are kept."""
    try:
        batch = getattr(recognizer, "transcribe", None)
        if callable(batch):
            hypotheses: list[Hypothesis] = batch(mulaw)
        else:
            hypotheses = []
            for offset in range(0, len(mulaw), 160):
                hypotheses += recognizer.accept(mulaw[offset : offset + 160])
            hypotheses += recognizer.finalize()
        return [h for h in hypotheses if h.is_final and h.words]
    finally:
        _close(recognizer)


def _close(recognizer: Any) -> None:
    close = getattr(recognizer, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


def _word_doc(word: Word, punctuated: str) -> dict[str, Any]:
    return {
        "word": word.word.lower().strip(".,?!"),
        "start": round(word.start, 6),
        "end": round(word.end, 6),
        "confidence": word.confidence,
        "punctuated_word": punctuated,
    }


def _punctuated(words: tuple[Word, ...], punctuate: bool) -> list[str]:
    texts = [w.word for w in words]
    if punctuate and texts:
        texts[0] = texts[0][:1].upper() + texts[0][1:]
        if not texts[-1].endswith((".", "?", "!")):
            texts[-1] += "."
    return texts


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 6) if values else 0.0


def build_response(
    channels: list[list[Hypothesis]],
    *,
    request_id: str,
    sha256: str,
    duration: float,
    model_uuid: str,
    model_info: dict[str, str],
    punctuate: bool,
    utterances: bool,
) -> dict[str, Any]:
    """Deepgram's pre-recorded JSON from each channel's final hypotheses (one per utterance)."""
    results_channels: list[dict[str, Any]] = []
    utterance_docs: list[dict[str, Any]] = []
    for index, finals in enumerate(channels):
        words: list[dict[str, Any]] = []
        for hypothesis in sorted(finals, key=lambda h: h.start):
            punctuated = _punctuated(hypothesis.words, punctuate)
            docs = [_word_doc(w, p) for w, p in zip(hypothesis.words, punctuated, strict=True)]
            words += docs
            if utterances and docs:
                utterance_docs.append(
                    {
                        "start": docs[0]["start"],
                        "end": docs[-1]["end"],
                        "confidence": _mean([d["confidence"] for d in docs]),
                        "channel": index,
                        "transcript": " ".join(d["punctuated_word"] for d in docs),
                        "words": docs,
                        "id": str(uuid.uuid4()),
                    }
                )
        results_channels.append(
            {
                "alternatives": [
                    {
                        "transcript": " ".join(w["punctuated_word"] for w in words),
                        "confidence": _mean([w["confidence"] for w in words]),
                        "words": words,
                    }
                ]
            }
        )
    results: dict[str, Any] = {"channels": results_channels}
    if utterances:
        results["utterances"] = sorted(utterance_docs, key=lambda u: (u["start"], u["channel"]))
    return {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": request_id,
            "sha256": sha256,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": round(duration, 6),
            "channels": len(channels),
            "models": [model_uuid],
            "model_info": {model_uuid: dict(model_info)},
        },
        "results": results,
    }
