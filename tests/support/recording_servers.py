"""Minimal local servers for the recordings tier's integration tests, speaking the real protocols.

- `TwilioRecordings`: Twilio's Recording media (`GET /2010-04-01/Accounts/{AC}/Recordings/{RE}.wav`,
  16-bit PCM WAV) and delete (`DELETE …/{RE}.json`, 204), HTTP basic auth with the account SID and
  auth token, Twilio's error JSON (`{"code", "message", "more_info", "status"}`, 20404 for a missing
  recording, 20003 for bad credentials).
- `DeepgramPrerecorded`: `POST /v1/listen` with `Authorization: Token …` and the audio as the body,
  answering the documented response (tests/support/recording_media.py) or Deepgram's error JSON
  (`{"err_code", "err_msg", "request_id"}`; a body that is not audio is a 400, as Deepgram answers).

Both record every request and can be told to fail the next N requests with a status. (The product's
stand-ins for `make demo` live in callscribe_local/; these stay small and test-only.)
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from callscribe_local.http_server import BackgroundHttpServer, StandIn

_MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Recordings/(?P<sid>RE[0-9a-f]{32})\.(?P<ext>wav|json)$"
)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body_bytes: int
    status: int


@dataclass
class _Script:
    failures: list[int] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_failure(self) -> int | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self, status: int, body_bytes: int) -> None:
        parts = urlsplit(self.path)
        self.owner.script.seen.append(
            Seen(
                self.command,
                parts.path,
                parse_qsl(parts.query, keep_blank_values=True),
                dict(self.headers.items()),
                body_bytes,
                status,
            )
        )


class _TwilioHandler(_Handler):
    owner: TwilioRecordings

    def do_GET(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _error(self, status: int, code: int, message: str) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self._record(status, 0)
        self._answer(status, json.dumps(body).encode(), "application/json")

    def _serve(self) -> None:
        owner = self.owner
        match = _MEDIA.match(urlsplit(self.path).path)
        expected = "Basic " + base64.b64encode(f"{owner.account_sid}:{owner.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._error(401, 20003, "Authenticate")
            return
        if match is None or match["account"] != owner.account_sid:
            self._error(404, 20404, "The requested resource was not found")
            return
        failure = owner.script.next_failure()
        if failure is not None:
            self._error(failure, 20500, "Internal Server Error")
            return
        sid, ext = match["sid"], match["ext"]
        with owner.lock:
            audio = owner.recordings.get(sid)
            if self.command == "DELETE" and ext == "json" and audio is not None:
                del owner.recordings[sid]
        if audio is None or (self.command == "GET" and ext != "wav"):
            self._error(404, 20404, f"The requested resource /Recordings/{sid} was not found")
        elif self.command == "DELETE":
            self._record(204, 0)
            self.send_response(204)
            self.end_headers()
        else:
            self._record(200, 0)
            self._answer(200, audio, "audio/x-wav")


@dataclass
class TwilioRecordings(StandIn):
    account_sid: str
    auth_token: str
    recordings: dict[str, bytes] = field(default_factory=dict)
    script: _Script = field(default_factory=_Script)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BackgroundHttpServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def seen(self) -> list[Seen]:
        return self.script.seen

    def fail_next(self, *statuses: int) -> None:
        self.script.failures.extend(statuses)

    def start(self) -> Self:
        handler = type("Handler", (_TwilioHandler,), {"owner": self})
        self._server = BackgroundHttpServer("127.0.0.1", 0, handler, "twilio-recordings")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


Responder = Callable[[bytes, list[tuple[str, str]]], dict[str, Any]]


class _DeepgramHandler(_Handler):
    owner: DeepgramPrerecorded

    def do_POST(self) -> None:
        owner = self.owner
        body = self._body()
        parts = urlsplit(self.path)
        request_id = str(uuid.uuid4())

        def error(status: int, code: str, message: str) -> None:
            self._record(status, len(body))
            doc = {"err_code": code, "err_msg": message, "request_id": request_id}
            self._answer(status, json.dumps(doc).encode(), "application/json")

        if parts.path != "/v1/listen":
            error(404, "NOT_FOUND", "Not Found")
            return
        if self.headers.get("Authorization") != f"Token {owner.api_key}":
            error(401, "INVALID_AUTH", "Invalid credentials.")
            return
        failure = owner.script.next_failure()
        if failure is not None:
            error(failure, "INTERNAL_SERVER_ERROR", "Internal Server Error")
            return
        if not body.startswith(b"RIFF"):
            error(400, "Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data")
            return
        answer = owner.responder(body, parse_qsl(parts.query, keep_blank_values=True))
        self._record(200, len(body))
        self._answer(200, json.dumps(answer).encode(), "application/json")


@dataclass
class DeepgramPrerecorded(StandIn):
    api_key: str
    responder: Responder
    script: _Script = field(default_factory=_Script)
    _server: BackgroundHttpServer | None = None

    @property
    def url(self) -> str:
        """What `DEEPGRAM_URL` is set to: `ws://`, so the REST request goes to `http://` here."""
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.port}"

    @property
    def seen(self) -> list[Seen]:
        return self.script.seen

    def fail_next(self, *statuses: int) -> None:
        self.script.failures.extend(statuses)

    def start(self) -> Self:
        handler = type("Handler", (_DeepgramHandler,), {"owner": self})
        self._server = BackgroundHttpServer("127.0.0.1", 0, handler, "deepgram-prerecorded")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
