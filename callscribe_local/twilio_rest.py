"""A local stand-in for Twilio's REST API (2010-04-01), for the real `twilio` client to talk to.

Calls (create, fetch, update: hang-up and redirect), their recordings (resource, `.wav` media,
`DELETE`), and the calls the simulated phone keeps here as Twilio's view of them (stand-in-only
`PUT`s, or `keep_call()` / `add_recording()` in-process), with a long poll
(`GET /_local/calls/{CallSid}/updates`) through which the phone follows what REST updates do to a
live call. Tests read `.requests` and script faults (`fail_next`, `fail_recording`,
`truncate_recording`). Must keep: Basic auth on every route (401 otherwise), Twilio's shapes and
errors (`twilio_resources`), 404 (20404) for a SID it does not hold, a redirect after the end
refused (21220). Routes and what is not emulated: docs/local.md, "The parts" and "Recordings".
Longer than most modules because it is one server for all of Twilio's REST API the product and
the simulated phone touch; the JSON shapes are `twilio_resources`'.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from callscribe_local.http_server import HttpStandIn
from callscribe_local.twilio_resources import (
    API_VERSION,
    Rates,
    StoredRecording,
    call_resource,
    error_body,
    list_page,
    now_rfc2822,
    recording_resource,
    rfc2822,
)
from shared.patterns import E164_PATTERN

E164 = re.compile(E164_PATTERN)  # the product's own shape: a number it would refuse never gets here
_CALLS = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Calls\.json$")
_CALL = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Calls/(?P<sid>CA[0-9a-f]{{32}})\.json$"
)
_CALL_RECORDINGS = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Calls/(?P<sid>CA[0-9a-f]{{32}})"
    r"/Recordings\.json$"
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


@dataclass
class TwilioRestStandIn(HttpStandIn):
    """`with TwilioRestStandIn(account_sid, auth_token) as twilio:` then `twilio.base_url`."""

    account_sid: str
    auth_token: str
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    recordings: dict[str, StoredRecording] = field(default_factory=dict)
    rates: Rates = field(default_factory=Rates)
    prices_held: bool = False  # True: every price reads null, as Twilio's before it priced the call
    _recording_faults: dict[str, RecordingFault] = field(default_factory=dict)
    # REST updates (Status, Twiml, Url) of the calls a simulated phone is on, in order, per call SID
    live_updates: dict[str, list[dict[str, str | None]]] = field(default_factory=dict)
    _errors: deque[InjectedError] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _updated: threading.Condition = field(init=False)
    label: ClassVar[str] = "Twilio stand-in"

    def __post_init__(self) -> None:
        self._updated = threading.Condition(self._lock)

    def _address(self) -> tuple[str, int]:
        return self.host, self.port

    def fail_next(self, status: int, code: int, message: str, times: int = 1) -> None:
        """Answer the next `times` requests with a Twilio error (e.g. 400/21211, 401/20003, 500/20500)."""
        with self._lock:
            self._errors.extend(InjectedError(status, code, message) for _ in range(times))

    def created_calls(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and _CALLS.match(r.path)]

    # -- calls the simulated phone is on ----------------------------------------------------------

    def keep_call(self, sid: str, **fields: Any) -> dict[str, Any]:
        """Hold or update a call as Twilio sees it (what the phone's PUT does), so a fetch answers
        what Twilio would, REST updates find it and the phone can follow them. `fields` are in the
        Call resource's own names (`status`, `direction`, `from`, `to`, `parent_call_sid`,
        `start_time`, `end_time` as datetimes or RFC 2822, `duration` in seconds, `answered_by`),
        over what is held already; a new call is an inbound call in progress unless they say
        otherwise. Reaching `in-progress` starts it and a terminal status ends it now, unless a time
        is given or held."""
        for name in ("start_time", "end_time"):
            if isinstance(fields.get(name), datetime):
                fields[name] = rfc2822(fields[name])
        if fields.get("duration") is not None:
            fields["duration"] = str(fields["duration"])
        with self._lock:
            held = self.calls.get(sid)
            if held is None:
                call = self._call_resource(sid, **{"direction": "inbound", "status": "in-progress", **fields})
            else:
                call = {**held, **fields}
            now = now_rfc2822()
            call["date_updated"] = now
            if call.get("status") == "in-progress" and call.get("start_time") is None:
                call["start_time"] = now
            if call.get("status") in TERMINAL_STATUSES and call.get("end_time") is None:
                call["end_time"] = now
            self.calls[sid] = call
            self.live_updates.setdefault(sid, [])
            self._updated.notify_all()
            return dict(call)

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

    def call_recordings_requests(self, sid: str) -> list[RecordedRequest]:
        return [r for r in self.requests if (m := _CALL_RECORDINGS.match(r.path)) and m.group("sid") == sid]

    # -- prices -------------------------------------------------------------------------------

    def hold_prices(self, held: bool = True) -> None:
        """Prices read null (True) or as billed (False) from now on."""
        with self._lock:
            self.prices_held = held

    def _priced_call(self, call: dict[str, Any]) -> dict[str, Any]:
        if call.get("price") is not None or self.prices_held:
            return call
        return {**call, "price": self.rates.call_price(call)}

    def _priced(self, recording: StoredRecording) -> StoredRecording:
        if recording.price is not None or self.prices_held:
            return recording
        return replace(recording, price=self.rates.recording_price(recording.duration))

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
        now = now_rfc2822()
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
        collection, single, recordings = _CALLS.match(path), _CALL.match(path), _CALL_RECORDINGS.match(path)
        matched = collection or single or recordings
        account = matched.group("account") if matched is not None else None
        if account is not None and account != self.account_sid:
            return 404, error_body(404, 20404, f"The requested resource {path} was not found")
        if collection and method == "POST":
            return self._create(params)
        if single and method == "POST":
            return self._update(single.group("sid"), params)
        if single and method == "PUT":  # the phone keeping Twilio's view of its call (stand-in only)
            return 200, self.keep_call(single.group("sid"), **_kept_fields(params))
        if recordings and method == "GET":
            return 200, self._call_recordings(recordings.group("sid"), path)
        if single and method == "GET":
            with self._lock:
                held = self.calls.get(single.group("sid"))
                call = None if held is None else self._priced_call(held)
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
        priced = self._priced(recording)
        return recording_resource(self.account_sid, priced, media_base=self.base_url if self._http else "")

    def _call_recordings(self, call_sid: str, path: str) -> dict[str, Any]:
        """The call's recordings, one list page (Twilio lists a `<Dial>`'s recording under the parent)."""
        with self._lock:
            held = [r for r in self.recordings.values() if r.call_sid == call_sid]
        items = [recording_resource(self.account_sid, self._priced(r), under_call=True) for r in held]
        return list_page("recordings", path, items)

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
        call = self._call_resource(sid, **{"from": from_, "to": to})
        with self._lock:
            self.calls[sid] = call
        return 201, call

    def _call_resource(self, sid: str, **fields: Any) -> dict[str, Any]:
        """A Call resource of this account in Twilio's JSON shape (`twilio_resources.call_resource`:
        `queued`, `outbound-api`, unless `fields` say otherwise)."""
        return call_resource(self.account_sid, sid, **fields)

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
            call = dict(call, date_updated=now_rfc2822())
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


# The phone's PUT of a call: Twilio's parameter names to the Call resource's fields.
_KEPT = {
    "Status": "status",
    "Direction": "direction",
    "From": "from",
    "To": "to",
    "ParentCallSid": "parent_call_sid",
    "StartTime": "start_time",
    "EndTime": "end_time",
    "Duration": "duration",
    "AnsweredBy": "answered_by",
}


def _kept_fields(params: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, field_name in _KEPT.items():
        value = params.get(name)
        if not value:
            continue
        if field_name in ("start_time", "end_time"):
            try:
                fields[field_name] = datetime.fromisoformat(value)
            except ValueError:
                fields[field_name] = value  # already Twilio's RFC 2822
        else:
            fields[field_name] = value
    return fields
