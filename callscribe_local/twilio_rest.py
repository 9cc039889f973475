"""A local stand-in for Twilio's REST Calls API, for the real `twilio` client to talk to.

It speaks enough of the 2010-04-01 API for what callscribe does: create a call
(`POST /2010-04-01/Accounts/{AccountSid}/Calls.json`), update one (`POST …/Calls/{CallSid}.json`:
`Status=completed`, `Twiml`, `Url`, as the agent mode hangs up or transfers) and fetch one. Bodies
are form-encoded, auth is HTTP Basic (account SID + auth token) and answers have Twilio's shapes:
the Call resource JSON, and `{"code", "message", "more_info", "status"}` for errors. Tests point
the client at it with `client.api.base_url` (callscribe: `TWILIO_API_BASE_URL`), read what was
asked in `.requests`, and make it fail with `.fail_next(...)`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from callscribe_local.http_server import BackgroundHttpServer, StandIn
from shared.patterns import E164_PATTERN

API_VERSION = "2010-04-01"
E164 = re.compile(E164_PATTERN)  # the product's own shape: a number it would refuse never gets here
_CALLS = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Calls\.json$")
_CALL = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Calls/(?P<sid>CA[0-9a-f]{{32}})\.json$"
)
UPDATABLE_STATUSES = {"completed", "canceled"}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    form: list[tuple[str, str]]
    headers: dict[str, str]
    status: int

    def value(self, name: str) -> str | None:
        return next((v for k, v in self.form if k == name), None)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.form if k == name]


@dataclass(frozen=True)
class InjectedError:
    status: int
    code: int
    message: str


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@dataclass
class TwilioRestStandIn(StandIn):
    """`with TwilioRestStandIn(account_sid, auth_token) as twilio:` then `twilio.base_url`."""

    account_sid: str
    auth_token: str
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    _errors: deque[InjectedError] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: BackgroundHttpServer | None = None

    @property
    def base_url(self) -> str:
        if self._http is None:
            raise RuntimeError("the Twilio stand-in is not started")
        return f"http://{self.host}:{self._http.port}"

    def start(self) -> Self:
        if self._http is None:
            self._http = BackgroundHttpServer(self.host, self.port, self._handler_class(), "twilio-rest")
            self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def fail_next(self, status: int, code: int, message: str, times: int = 1) -> None:
        """Answer the next `times` requests with a Twilio error (e.g. 400/21211, 401/20003, 500/20500)."""
        with self._lock:
            self._errors.extend(InjectedError(status, code, message) for _ in range(times))

    def created_calls(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and _CALLS.match(r.path)]

    # -- request handling -------------------------------------------------------------------

    def _authorised(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        path = urlsplit(raw_path).path
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            form = []
        status, payload = self._answer(method, path, headers, dict(form))
        with self._lock:
            self.requests.append(RecordedRequest(method, path, form, headers, status))
        return status, payload

    def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, str],
    ) -> tuple[int, dict[str, Any]]:
        if not self._authorised(headers):
            return 401, error_body(401, 20003, "Authenticate")
        with self._lock:
            injected = self._errors.popleft() if self._errors else None
        if injected is not None:
            return injected.status, error_body(injected.status, injected.code, injected.message)
        collection, single = _CALLS.match(path), _CALL.match(path)
        matched = collection or single
        account = matched.group("account") if matched is not None else None
        if account is not None and account != self.account_sid:
            return 404, error_body(404, 20404, f"The requested resource {path} was not found")
        if collection and method == "POST":
            return self._create(params)
        if single and method == "POST":
            return self._update(single.group("sid"), params)
        if single and method == "GET":
            with self._lock:
                call = self.calls.get(single.group("sid"))
            return (
                (200, call)
                if call
                else (404, error_body(404, 20404, f"The requested resource {path} was not found"))
            )
        return 404, error_body(404, 20404, f"The requested resource {path} was not found")

    def _create(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to, from_ = params.get("To", ""), params.get("From", "")
        if not to:
            return 400, error_body(400, 21201, "No 'To' number is specified")
        if not E164.match(to):
            return 400, error_body(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            return 400, error_body(400, 21213, "No 'From' number is specified")
        if not E164.match(from_):
            return 400, error_body(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if not (params.get("Url") or params.get("Twiml") or params.get("ApplicationSid")):
            return 400, error_body(400, 21205, "Url parameter is required.")
        sid = "CA" + uuid.uuid4().hex
        now = _rfc2822(datetime.now(UTC))
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}"
        call = {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": from_,
            "from_formatted": from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + uuid.uuid5(uuid.NAMESPACE_URL, from_).hex,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "payments": f"{base}/Payments.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
                "streams": f"{base}/Streams.json",
                "transcriptions": f"{base}/Transcriptions.json",
                "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
            },
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
            "uri": f"{base}.json",
        }
        with self._lock:
            self.calls[sid] = call
        return 201, call

    def _call_path(self, sid: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json"

    def _update(self, sid: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            call = self.calls.get(sid)
            if call is None:
                return 404, error_body(
                    404,
                    20404,
                    f"The requested resource {self._call_path(sid)} was not found",
                )
            status = params.get("Status")
            if status is not None and status not in UPDATABLE_STATUSES:
                return 400, error_body(400, 21218, f"Invalid Status: {status}")
            if status is None and not (params.get("Twiml") or params.get("Url")):
                return 400, error_body(400, 21205, "Url or Twiml parameter is required.")
            call = dict(call, date_updated=_rfc2822(datetime.now(UTC)))
            if status is not None:
                call["status"] = status
                call["end_time"] = call["date_updated"]
            self.calls[sid] = call
        return 200, call

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, payload = standin.handle(self.command, self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests and the demo
                return

        return _Handler
