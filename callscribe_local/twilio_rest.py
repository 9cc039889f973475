"""A local stand-in for Twilio's REST Calls API, for the real `twilio` client to talk to.

It speaks enough of the 2010-04-01 API for what callscribe does: create a call
(`POST /2010-04-01/Accounts/{AccountSid}/Calls.json`), update one (`POST …/Calls/{CallSid}.json`:
`Status=completed`, `Twiml`, `Url`, as the agent mode hangs up or transfers) and fetch one. Bodies
are form-encoded, auth is HTTP Basic (account SID + auth token) and answers have Twilio's shapes:
the Call resource JSON, and `{"code", "message", "more_info", "status"}` for errors. Tests point
the client at it with `client.api.base_url` (callscribe: `TWILIO_API_BASE_URL`), read what was
asked in `.requests`, and make it fail with `.fail_next(...)`.

Recordings: `GET …/Recordings/{RecordingSid}.wav` (or without extension) serves the recording as
Twilio does, a 16-bit PCM WAV (`audio/x-wav`); `GET …/Recordings/{RecordingSid}.json` the Recording
resource; `DELETE …/Recordings/{RecordingSid}.json` removes it (204). All need Basic auth (401
otherwise) and answer 404 (Twilio error 20404) for a SID it does not hold. Recordings are kept in
memory by SID; the simulated phone puts them there (`PUT …/Recordings/{RecordingSid}.wav`, a
stand-in-only method, or `add_recording()` in-process). Tests script a recording's failures with
`fail_recording(sid, status)` and `truncate_recording(sid)`.

Live calls: the simulated phone keeps the call it is on here (`PUT …/Calls/{CallSid}.json`, a
stand-in-only method: Twilio knows its own calls) and follows what REST updates do to it through a
long poll (`GET /_local/calls/{CallSid}/updates?after=N&wait=S`, Basic auth: the updates after the
first N, waiting up to S seconds for one), so an agent's `end_call` or transfer ends or redirects the
simulated call as Twilio would. Redirecting a call that has ended is refused as Twilio refuses it
(400, error 21220).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
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
_UPDATES = re.compile(r"^/_local/calls/(?P<sid>CA[0-9a-f]{32})/updates$")
MAX_UPDATES_WAIT_SECONDS = 30.0
_RECORDING = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Recordings/"
    r"(?P<sid>RE[0-9a-fA-F]{32})(?P<ext>\.wav|\.json|\.mp3)?$"
)
UPDATABLE_STATUSES = {"completed", "canceled"}
TERMINAL_STATUSES = {"completed", "canceled", "busy", "failed", "no-answer"}
WAV_CONTENT_TYPE = "audio/x-wav"


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


@dataclass
class StoredRecording:
    """One recording as the Twilio stand-in holds it."""

    sid: str
    call_sid: str
    wav: bytes
    channels: int
    source: str
    start_time: str  # ISO-8601 with the sub-second part (the resource shows it as RFC 2822)
    duration: str  # seconds, as Twilio's resource gives it: a string
    date_created: str


@dataclass
class RecordingFault:
    """What the next `times` GETs of one recording's media get instead of the WAV."""

    status: int | None  # an HTTP error status, or None for a truncated WAV (200)
    times: int
    keep_bytes: int | None = None  # for a truncated WAV: how much of the file is sent


@dataclass(frozen=True)
class RawResponse:
    status: int
    content_type: str
    body: bytes


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
    recordings: dict[str, StoredRecording] = field(default_factory=dict)
    _recording_faults: dict[str, RecordingFault] = field(default_factory=dict)
    # REST updates (Status, Twiml, Url) of the calls a simulated phone is on, in order, per call SID
    live_updates: dict[str, list[dict[str, str | None]]] = field(default_factory=dict)
    _errors: deque[InjectedError] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _updated: threading.Condition = field(init=False)
    _http: BackgroundHttpServer | None = None

    def __post_init__(self) -> None:
        self._updated = threading.Condition(self._lock)

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

    # -- live calls (the simulated phone's) -----------------------------------------------------

    def keep_call(
        self, sid: str, *, from_: str, to: str, direction: str = "inbound", status: str = "in-progress"
    ) -> dict[str, Any]:
        """Hold (or update) a call the simulated phone is on, so REST updates find it and the phone
        can follow them (what the phone's PUT does)."""
        with self._lock:
            known = self.calls.get(sid)
            call = dict(known) if known else self._call_resource(sid, from_, to, direction)
            now = _rfc2822(datetime.now(UTC))
            call.update(status=status, date_updated=now)
            if status in ("in-progress", "ringing") and call.get("start_time") is None:
                call["start_time"] = now
            if status in TERMINAL_STATUSES and call.get("end_time") is None:
                call["end_time"] = now
            self.calls[sid] = call
            self.live_updates.setdefault(sid, [])
            self._updated.notify_all()
        return call

    def updates_after(self, sid: str, after: int, wait: float) -> list[dict[str, str | None]] | None:
        """The REST updates of a live call after the first `after`, waiting up to `wait` seconds for
        one; None for a call no phone keeps here."""
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_UPDATES_WAIT_SECONDS)
        with self._updated:
            while True:
                updates = self.live_updates.get(sid)
                if updates is None:
                    return None
                remaining = deadline - time.monotonic()
                if len(updates) > after or remaining <= 0:
                    return list(updates[after:])
                self._updated.wait(remaining)

    # -- recordings -------------------------------------------------------------------------

    def add_recording(
        self,
        sid: str,
        wav: bytes,
        *,
        call_sid: str,
        channels: int,
        source: str = "DialVerb",
        start_time: str = "",
        duration: str = "",
    ) -> StoredRecording:
        """Keep a recording (what the phone's PUT does); it is then served by SID."""
        now = _rfc2822(datetime.now(UTC))
        recording = StoredRecording(
            sid, call_sid, wav, channels, source, start_time or now, duration or "0", now
        )
        with self._lock:
            self.recordings[sid] = recording
        return recording

    def fail_recording(self, sid: str, status: int = 404, times: int = 1) -> None:
        """The next `times` GETs of this recording's media answer `status` (404, 500, 503…)."""
        with self._lock:
            self._recording_faults[sid] = RecordingFault(status, times)

    def truncate_recording(self, sid: str, keep_bytes: int | None = None, times: int = 1) -> None:
        """The next `times` GETs of this recording's media answer 200 with only the first
        `keep_bytes` of the WAV (default: half of it): its header still declares the whole data."""
        with self._lock:
            self._recording_faults[sid] = RecordingFault(None, times, keep_bytes)

    def recording_requests(self, sid: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (m := _RECORDING.match(r.path)) is not None and (sid is None or m.group("sid") == sid)
        ]

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

    def respond(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> RawResponse:
        """Any request: recordings' media as bytes, everything else as Twilio's JSON."""
        path = urlsplit(raw_path).path
        if (updates := _UPDATES.match(path)) is not None and method == "GET":
            return self._updates_answer(updates.group("sid"), raw_path, headers)
        if _RECORDING.match(path):
            answer = self._recording_answer(method, raw_path, headers, body)
            with self._lock:
                self.requests.append(RecordedRequest(method, path, [], headers, answer.status))
            return answer
        status, payload = self.handle(method, raw_path, headers, body)
        return RawResponse(status, "application/json; charset=utf-8", json.dumps(payload).encode())

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
        if single and method == "PUT":  # the simulated phone keeping the call it is on (stand-in only)
            kept = self.keep_call(
                single.group("sid"),
                from_=params.get("From", ""),
                to=params.get("To", ""),
                direction=params.get("Direction", "inbound"),
                status=params.get("Status", "in-progress"),
            )
            return 200, kept
        if single and method == "GET":
            with self._lock:
                call = self.calls.get(single.group("sid"))
            return (
                (200, call)
                if call
                else (404, error_body(404, 20404, f"The requested resource {path} was not found"))
            )
        return 404, error_body(404, 20404, f"The requested resource {path} was not found")

    def _updates_answer(self, sid: str, raw_path: str, headers: dict[str, str]) -> RawResponse:
        if not self._authorised(headers):
            return self._json(401, error_body(401, 20003, "Authenticate"))
        query = dict(parse_qsl(urlsplit(raw_path).query))
        try:
            after, wait = int(query.get("after", "0")), float(query.get("wait", "0"))
        except ValueError:
            return self._json(400, error_body(400, 20001, "after and wait must be numbers"))
        updates = self.updates_after(sid, after, wait)
        if updates is None:
            return self._json(404, error_body(404, 20404, f"No live call {sid} at the local stand-in"))
        return self._json(200, {"updates": updates})

    def _recording_answer(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> RawResponse:
        split = urlsplit(raw_path)
        match = _RECORDING.match(split.path)
        assert match is not None
        sid, ext = match.group("sid"), match.group("ext") or ""

        def error(status: int, code: int, message: str) -> RawResponse:
            return self._json(status, error_body(status, code, message))

        not_found = error(404, 20404, f"The requested resource {split.path} was not found")
        if not self._authorised(headers):
            return error(401, 20003, "Authenticate")
        if match.group("account") != self.account_sid:
            return not_found
        if method == "PUT" and ext == ".wav":  # the phone keeping what it recorded (stand-in only)
            query = dict(parse_qsl(split.query))
            recording = self.add_recording(
                sid,
                body,
                call_sid=query.get("CallSid", ""),
                channels=int(query.get("Channels", "1")),
                source=query.get("Source", "DialVerb"),
                start_time=query.get("StartTime", ""),
                duration=query.get("Duration", ""),
            )
            return self._json(201, self._resource(recording))
        with self._lock:
            held = self.recordings.get(sid)
        if held is None:
            return not_found
        recording = held
        if method == "DELETE" and ext in ("", ".json"):
            with self._lock:
                self.recordings.pop(sid, None)
            return RawResponse(204, "", b"")
        if method != "GET":
            return error(405, 20004, "Method not allowed")
        if ext == ".json":
            return self._json(200, self._resource(recording))
        if ext == ".mp3":
            return error(404, 20404, "The local Twilio stand-in serves recordings as .wav only")
        fault = self._take_recording_fault(sid)
        if fault is not None and fault.status is not None:
            if fault.status == 404:
                return not_found
            return error(fault.status, 20500, "Internal Server Error")
        if fault is not None:
            keep = fault.keep_bytes if fault.keep_bytes is not None else len(recording.wav) // 2
            return RawResponse(200, WAV_CONTENT_TYPE, recording.wav[:keep])
        return RawResponse(200, WAV_CONTENT_TYPE, recording.wav)

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> RawResponse:
        return RawResponse(status, "application/json; charset=utf-8", json.dumps(payload).encode())

    def _take_recording_fault(self, sid: str) -> RecordingFault | None:
        with self._lock:
            fault = self._recording_faults.get(sid)
            if fault is None:
                return None
            fault.times -= 1
            if fault.times <= 0:
                del self._recording_faults[sid]
            return fault

    def _resource(self, recording: StoredRecording) -> dict[str, Any]:
        """The Recording resource, in Twilio's JSON shape."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{recording.sid}"
        start = recording.start_time
        with contextlib.suppress(ValueError):  # whole seconds, RFC 2822, as Twilio shows it
            start = _rfc2822(datetime.fromisoformat(start))
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid": recording.call_sid,
            "conference_sid": None,
            "date_created": recording.date_created,
            "date_updated": recording.date_created,
            "start_time": start,
            "duration": str(round(float(recording.duration or 0))),
            "sid": recording.sid,
            "price": None,
            "price_unit": "USD",
            "status": "completed",
            "channels": recording.channels,
            "source": recording.source,
            "error_code": None,
            "uri": f"{uri}.json",
            "encryption_details": None,
            "media_url": f"{self.base_url if self._http else ''}{uri}",
            "subresource_uris": {
                "add_on_results": f"{uri}/AddOnResults.json",
                "transcriptions": f"{uri}/Transcriptions.json",
            },
        }

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
        call = self._call_resource(sid, from_, to, "outbound-api")
        with self._lock:
            self.calls[sid] = call
        return 201, call

    def _call_resource(self, sid: str, from_: str, to: str, direction: str) -> dict[str, Any]:
        """A Call resource in Twilio's JSON shape, `queued`."""
        now = _rfc2822(datetime.now(UTC))
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}"
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": direction,
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
            if status is None and sid in self.live_updates and call.get("status") in TERMINAL_STATUSES:
                return 400, error_body(400, 21220, "Call is not in-progress. Cannot redirect.")
            call = dict(call, date_updated=_rfc2822(datetime.now(UTC)))
            if status is not None:
                call["status"] = status
                call["end_time"] = call["date_updated"]
            self.calls[sid] = call
            if sid in self.live_updates:
                self.live_updates[sid].append(
                    {"status": status, "twiml": params.get("Twiml"), "url": params.get("Url")}
                )
                self._updated.notify_all()
        return 200, call

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                answer = standin.respond(self.command, self.path, headers, body)
                try:
                    self.send_response(answer.status)
                    if answer.content_type:
                        self.send_header("Content-Type", answer.content_type)
                    if answer.status != 204:
                        self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    if answer.status != 204:
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client left (a phone's long poll when its call ended)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests and the demo
                return

        return _Handler
