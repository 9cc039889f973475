"""A test double of the people's read API and of the stored recordings, for the console's browser tests
that need records in exact states (a gap, a line filled from the recording, priced legs, a record that
changes with no message); the rest run on the local stack (tests/support/console_stack.py). It
answers the shapes of the contract (ARCHITECTURE.md, "People"; CONSOLE_INTERFACE.md): `GET /api/calls`
(filters, `live=true`, newest first, `nextCursor`), `GET /api/calls/{callSid}` (the transcript paged
with `transcriptNextCursor`), and `GET /api/calls/{callSid}/recording` (supervisors only). 401
without a valid ID token, 403 without the group, as the authoriser and the Lambda do. Recordings are
served from another origin, as S3's presigned URLs are, with HTTP range requests (what a browser
needs to seek).
"""

from __future__ import annotations

import io
import json
import math
import secrets
import struct
import threading
import time
import wave
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from callscribe_local.http_server import BackgroundHttpServer
from tests.support.console_people import SUPERVISORS, VIEWERS, TokenCheck, groups

TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
Response = tuple[int, list[tuple[str, str]], bytes]


def tone_wav(seconds: float, rate: int = 8000) -> bytes:
    """A quiet two-tone WAV (16-bit PCM mono) of `seconds`: something a browser can load and seek."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        value = 0.08 * math.sin(2 * math.pi * (330 if int(t) % 2 else 440) * t)
        frames += struct.pack("<h", int(value * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return out.getvalue()


class MediaServer:
    """Serves WAV files at unguessable, expiring URLs, with `Range` support (206), on its own port."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, float]] = {}
        self.requests: list[str] = []
        self._http = BackgroundHttpServer("127.0.0.1", 0, self._handler(), "media-double")
        self._http.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._http.port}"

    def presign(self, data: bytes, ttl: float = 900.0) -> tuple[str, str]:
        token = secrets.token_hex(12)
        expires = time.time() + ttl
        self.files[token] = (data, expires)
        expires_at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
        return f"{self.origin}/recordings/{token}.wav", expires_at

    def stop(self) -> None:
        self._http.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        media = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                token = urlsplit(self.path).path.rsplit("/", 1)[-1].removesuffix(".wav")
                media.requests.append(token)
                found = media.files.get(token)
                if found is None or found[1] < time.time():
                    self._send(403, b"expired or unknown", "text/plain")
                    return
                data = found[0]
                start, end = 0, len(data) - 1
                status = 200
                spec = self.headers.get("Range", "")
                if spec.startswith("bytes="):
                    first, _, last = spec[6:].split(",")[0].partition("-")
                    start = int(first) if first else max(0, len(data) - int(last))
                    end = int(last) if first and last else len(data) - 1
                    end = min(end, len(data) - 1)
                    if start > end:
                        self._send(416, b"", "text/plain", [("Content-Range", f"bytes */{len(data)}")])
                        return
                    status = 206
                extra = [("Accept-Ranges", "bytes")]
                if status == 206:
                    extra.append(("Content-Range", f"bytes {start}-{end}/{len(data)}"))
                self._send(status, data[start : end + 1], "audio/wav", extra)

            def _send(self, status: int, body: bytes, kind: str, extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra:
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return _Handler


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def call_record(call_sid: str, **fields: Any) -> dict[str, Any]:
    """A call in the `GET /calls/{callSid}` shape, with neutral values for what `fields` leaves out."""
    started = fields.pop("started", datetime.now(UTC))
    record: dict[str, Any] = {
        "callSid": call_sid,
        "status": "in-progress",
        "direction": "inbound",
        "from": "+14155550142",
        "to": "+14155550100",
        "route": "forward",
        "connectTo": "+14155550199",
        "parentCallSid": None,
        "startedAt": iso(started),
        "answeredAt": iso(started),
        "endedAt": None,
        "durationSeconds": None,
        "answeredBy": None,
        "recording": None,
        "cost": None,
        "legs": [],
        "conversationCostUsd": None,
        "transcriptStatus": "in-progress",
        "transcriptSource": None,
        "liveCoverage": None,
        "gaps": None,
        "transcript": [],
        "transcriptNextCursor": None,
        "summaryStatus": None,
        "summary": None,
        "evaluations": None,
        "evaluationsVersion": None,
    }
    record.update(fields)
    return record


def segment(
    call_sid: str,
    start: float,
    text: str,
    *,
    track: str = "inbound",
    end: float | None = None,
    source: str = "live",
    speaker: str | None = None,
) -> dict[str, Any]:
    key = f"{round(start * 1000):010d}#{track}" + ("#r" if source == "recording" else "")
    return {
        "type": "segment",
        "callSid": call_sid,
        "segmentId": key,
        "track": track,
        "speaker": speaker or ("caller" if track == "inbound" else "callee"),
        "text": text,
        "start": start,
        "end": end if end is not None else start + 1.5,
        "source": source,
    }


class ConsoleApiDouble:
    """The `(method, path, headers, body) -> (status, headers, body)` callable the console server takes."""

    def __init__(self, tokens: TokenCheck, media: MediaServer, transcript_page: int = 4) -> None:
        self.tokens = tokens
        self.media = media
        self.transcript_page = transcript_page  # small, so the console must follow the cursor
        self.calls: dict[str, dict[str, Any]] = {}
        self.segments: dict[str, dict[str, dict[str, Any]]] = {}
        self.recordings: dict[str, tuple[bytes, float]] = {}
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    # -- what tests arrange ------------------------------------------------------------------------

    def put_call(self, record: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            stored = {k: v for k, v in record.items() if k not in ("transcript", "transcriptNextCursor")}
            self.calls[record["callSid"]] = stored
            self.segments.setdefault(record["callSid"], {})
            for item in record.get("transcript") or []:
                self.segments[record["callSid"]][item["segmentId"]] = dict(item)
            return stored

    def update_call(self, call_sid: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self.calls[call_sid].update(fields)
            return dict(self.calls[call_sid])

    def store_segment(self, item: Mapping[str, Any]) -> None:
        with self._lock:
            self.segments.setdefault(item["callSid"], {})[item["segmentId"]] = dict(item)

    def set_recording(self, call_sid: str, wav: bytes, offset_seconds: float) -> None:
        with self._lock:
            self.recordings[call_sid] = (wav, offset_seconds)

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if m == method and p.startswith(path_prefix))

    # -- the API -----------------------------------------------------------------------------------

    def __call__(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> Response:
        parts = urlsplit(raw_path)
        status, doc = self._answer(method, parts.path, parse_qs(parts.query), headers)
        with self._lock:
            self.requests.append((method, raw_path, status))
        return status, [("Content-Type", "application/json")], json.dumps(doc).encode()

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: list[tuple[str, str]]
    ) -> tuple[int, Any]:
        token = next((v for k, v in headers if k.lower() == "authorization"), None)
        claims = self.tokens.claims(token)
        if claims is None:
            return 401, {"message": "Unauthorized"}
        member = groups(claims)
        if VIEWERS not in member:
            return 403, {"message": "not in group callscribe-viewers"}
        if method != "GET":
            return 405, {"message": "Method not allowed"}
        segments = [p for p in path.removeprefix("/api").split("/") if p]
        arg = {k: v[-1] for k, v in query.items()}
        with self._lock:
            if segments == ["calls"]:
                return self._list(arg)
            if len(segments) == 2 and segments[0] == "calls":
                return self._call(segments[1], arg)
            if len(segments) == 3 and segments[0] == "calls" and segments[2] == "recording":
                if SUPERVISORS not in member:
                    return 403, {"message": "recordings are for callscribe-supervisors"}
                return self._recording(segments[1])
        return 404, {"message": "Not found"}

    def _list(self, arg: dict[str, str]) -> tuple[int, Any]:
        calls = [dict(c) for c in self.calls.values() if c.get("parentCallSid") is None]
        if arg.get("live") == "true":
            calls = [c for c in calls if c["status"] not in TERMINAL]
        for name, key in (("status", "status"), ("route", "route")):
            if arg.get(name):
                calls = [c for c in calls if c.get(key) == arg[name]]
        if arg.get("number"):
            calls = [
                c for c in calls if arg["number"] in (c["to"] if c["direction"] == "inbound" else c["from"],)
            ]
        if arg.get("from"):
            calls = [c for c in calls if _when(c["startedAt"]) >= _when(arg["from"])]
        if arg.get("to"):
            calls = [c for c in calls if _when(c["startedAt"]) <= _when(arg["to"])]
        calls.sort(key=lambda c: (_when(c["startedAt"]), c["callSid"]), reverse=True)
        offset = int(arg.get("cursor") or 0)
        limit = max(1, min(100, int(arg.get("limit") or 25)))
        page = calls[offset : offset + limit]
        for call in page:
            call["live"] = call["status"] not in TERMINAL
            call["costTotal"] = (call.get("cost") or {}).get("totalUsd")
        nxt = str(offset + limit) if offset + limit < len(calls) else None
        return 200, {"calls": page, "nextCursor": nxt}

    def _call(self, call_sid: str, arg: dict[str, str]) -> tuple[int, Any]:
        call = self.calls.get(call_sid)
        if call is None:
            return 404, {"message": "Not found"}
        ordered = sorted(self.segments.get(call_sid, {}).values(), key=lambda s: s["segmentId"])
        after = arg.get("cursor")
        if after:
            ordered = [s for s in ordered if s["segmentId"] > after]
        page = ordered[: self.transcript_page]
        more = len(ordered) > len(page)
        transcript = [{k: v for k, v in s.items() if k not in ("type", "callSid")} for s in page]
        record = {
            **call,
            "transcript": transcript,
            "transcriptNextCursor": page[-1]["segmentId"] if more else None,
        }
        return 200, record

    def _recording(self, call_sid: str) -> tuple[int, Any]:
        found = self.recordings.get(call_sid)
        if found is None:
            return 404, {"message": "no recording"}
        url, expires_at = self.media.presign(found[0])
        return 200, {"url": url, "expiresAt": expires_at, "offsetSeconds": found[1]}


def _when(value: str) -> datetime:
    """An ISO date or datetime (a query's, or a stored `...Z`) as an aware datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def minutes_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=n)
