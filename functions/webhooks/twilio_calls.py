"""Twilio's REST Calls API behind a port, so the calls logic is testable and the import is lazy.

`twilio.rest` (and the requests/aiohttp stack under it) costs cold-start time that only `POST /calls`
needs, so the client is built on first use, once per process. `TWILIO_API_BASE_URL` replaces the
API host (a stand-in in tests); its default is Twilio's own, so production needs no code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from threading import Lock
from typing import TYPE_CHECKING, Any, Protocol

from shared.errors import CallscribeError

if TYPE_CHECKING:
    from twilio.rest import Client


class TwilioApiError(CallscribeError):
    """Twilio refused or failed a request; `http_status` is what our API answers for it."""

    def __init__(
        self, message: str, *, http_status: int, twilio_status: int | None, code: int | None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.twilio_status = twilio_status
        self.code = code


@dataclass(frozen=True)
class OutboundCall:
    to: str
    from_number: str
    twiml_url: str
    status_callback: str
    recording_status_callback: str
    status_events: tuple[str, ...] = ("initiated", "ringing", "answered", "completed")
    record: bool = True


@dataclass(frozen=True)
class CreatedCall:
    sid: str
    status: str | None = None


class CallsApi(Protocol):
    def create_call(self, call: OutboundCall) -> CreatedCall: ...


def map_twilio_status(status: int | None) -> int:
    """Our answer for a Twilio failure: its 4xx about the request are the caller's, the rest ours."""
    if status in (401, 403):
        return 502  # our credentials are wrong: not the caller's fault, and not retryable by them
    if status == 429:
        return 503
    if status is not None and 400 <= status < 500:
        return 400
    return 502


@dataclass
class TwilioRestCalls:
    """The real adapter: one `twilio.rest.Client` per process, created on first use."""

    account_sid: str
    auth_token: str
    base_url: str = "https://api.twilio.com"
    _client: Client | None = field(default=None, init=False, repr=False)
    _lock: Lock = field(default_factory=Lock, init=False, repr=False)

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                from twilio.rest import Client  # lazy on purpose: cold start

                client = Client(self.account_sid, self.auth_token)
                client.api.base_url = self.base_url.rstrip("/")
                self._client = client
            return self._client

    def create_call(self, call: OutboundCall) -> CreatedCall:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        options: dict[str, Any] = {
            "to": call.to,
            "from_": call.from_number,
            "url": call.twiml_url,
            "method": "POST",
            "status_callback": call.status_callback,
            "status_callback_event": list(call.status_events),
            "status_callback_method": "POST",
        }
        if call.record:
            options.update(
                record=True,
                recording_channels="dual",
                recording_status_callback=call.recording_status_callback,
                recording_status_callback_event=["in-progress", "completed", "absent"],
                recording_status_callback_method="POST",
            )
        try:
            created = self.client().calls.create(**options)
        except TwilioRestException as exc:
            raise TwilioApiError(
                f"Twilio refused the call: {exc.msg} (code {exc.code})",
                http_status=map_twilio_status(exc.status),
                twilio_status=exc.status,
                code=exc.code,
            ) from exc
        except TwilioException as exc:
            raise TwilioApiError(
                f"Twilio request failed: {exc}", http_status=502, twilio_status=None, code=None
            ) from exc
        except OSError as exc:  # requests' ConnectionError and timeouts are OSErrors
            raise TwilioApiError(
                f"Twilio is unreachable: {exc}", http_status=503, twilio_status=None, code=None
            ) from exc
        return CreatedCall(
            sid=str(created.sid), status=None if created.status is None else str(created.status)
        )
