"""A team's own TwiML app, for listen-in calls: what a listen route hands the call to.

Teams keep their call flow (a TwiML app, a Studio flow, Flex) and point callscribe's listen route at
it. This stand-in is such an app: it answers `TWIML_PATH` (POST or GET, as the `<Redirect>` says)
with a fixed TwiML document, by default a greeting and a `<Dial>` to the team's desk, and it checks
`X-Twilio-Signature` as any Twilio app should (the request is Twilio's own, signed with the
account's auth token over this URL: for a GET, the whole URL with its query). A request that does
not verify is answered 403, as a real app would. Every request is kept (`requests`) so tests can
see what reached the team: Twilio's call parameters, and nothing of callscribe's (no stream token).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from callscribe_local.http_server import HttpStandIn

TWIML_PATH = "/team/voice"
TEAM_DESK = "+14155550199"  # where the team's flow rings (the local stack's FORWARD_TO)


def desk_twiml(number: str = TEAM_DESK) -> str:
    """The team's flow: a greeting of its own, then ring the desk (no recording: callscribe's runs)."""
    response = VoiceResponse()
    response.say("Thanks for calling the support team. Connecting you now.")
    response.dial(number)
    return str(response)


@dataclass(frozen=True)
class TeamRequest:
    """One request the app received, as it arrived."""

    method: str
    url: str  # the URL as this app saw it (what Twilio signed)
    params: dict[str, str]
    signature_valid: bool


@dataclass
class TeamApp(HttpStandIn):
    """`with TeamApp(auth_token) as app:` then `app.twiml_url`; answers `twiml` to every signed request."""

    auth_token: str
    twiml: str = field(default_factory=desk_twiml)
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[TeamRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    label: ClassVar[str] = "team app"

    @property
    def twiml_url(self) -> str:
        return self.base_url + TWIML_PATH

    def _address(self) -> tuple[str, int]:
        return self.host, self.port

    def received(self, call_sid: str) -> list[TeamRequest]:
        with self._lock:
            return [r for r in self.requests if r.params.get("CallSid") == call_sid]

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """(status, body) for one request: the TwiML, 403 for a bad signature, 404 elsewhere."""
        path, query = urlsplit(target).path, urlsplit(target).query
        if path != TWIML_PATH or method not in {"GET", "POST"}:
            return 404, ""
        url = self.base_url + target
        if method == "POST":
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
            signed_url, signed_params = url, params
        else:
            params = dict(parse_qsl(query, keep_blank_values=True))
            signed_url, signed_params = url, {}
        valid = RequestValidator(self.auth_token).validate(
            signed_url, signed_params, headers.get("x-twilio-signature", "")
        )
        with self._lock:
            self.requests.append(TeamRequest(method, url, params, valid))
        if not valid:
            return 403, ""
        return 200, self.twiml

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, text = app.respond(self.command, self.path, headers, body)
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests and the demo
                return

        return _Handler
