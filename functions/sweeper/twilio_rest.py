"""Twilio's REST API as the sweeper reads it: a call's resource and its recordings, behind a port.

`TwilioReader` is the port (a fake in unit tests); `TwilioRestReader` the adapter, the `twilio`
library's client pointed at `TWILIO_API_BASE_URL` as the webhooks' is (a stand-in in tests), built on
first use and kept for the container. What a change must keep: only the configured host and account
are asked; every request has a timeout and no retry of its own (the sweeper asks again on a later
run, with a backoff); every failure is a `TwilioReadError` that says whether the rest of the run
should stop asking (429: Twilio's rate limit; 401/403: our credentials refused) or only this ask
failed. The answers are plain records (`TwilioCall`, `TwilioRecording`), times as aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from threading import Lock
from typing import TYPE_CHECKING, Any, Protocol

from shared.errors import CallscribeError

if TYPE_CHECKING:
    from twilio.rest import Client

API_VERSION = "2010-04-01"
REQUEST_TIMEOUT_SECONDS = 10.0  # per request: a hung connection must not eat the sweeper's run
MAX_RECORDINGS = 20  # recordings read per call, in one page (a call makes one, or two: dial, voicemail)
STOP_THE_RUN = frozenset({401, 403, 429})  # every other ask of this run would fail alike


class TwilioReadError(CallscribeError):
    """Twilio refused or failed a read; `stops_run`: asking again in this run would fail alike."""

    def __init__(self, message: str, *, http_status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code

    @property
    def stops_run(self) -> bool:
        return self.http_status in STOP_THE_RUN


@dataclass(frozen=True, kw_only=True)
class TwilioCall:
    """The Call resource's fields the sweeper reads (`GET …/Calls/{CallSid}.json`)."""

    sid: str
    status: str | None = None
    direction: str | None = None
    parent_call_sid: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    date_updated: datetime | None = None
    duration_seconds: int | None = None
    answered_by: str | None = None
    price: str | None = None  # as Twilio reports it: negative for a charge, null until billed
    price_unit: str | None = None


@dataclass(frozen=True, kw_only=True)
class TwilioRecording:
    """A recording of the call (`GET …/Calls/{CallSid}/Recordings.json`), with its media URL as the
    recording callback's `RecordingUrl` gives it."""

    sid: str
    url: str
    status: str | None = None
    start_time: datetime | None = None
    date_created: datetime | None = None
    duration_seconds: int | None = None
    channels: int | None = None
    source: str | None = None
    track: str | None = None
    error_code: str | None = None
    price: str | None = None
    price_unit: str | None = None


class TwilioReader(Protocol):
    def fetch_call(self, call_sid: str) -> TwilioCall:
        """The call as Twilio holds it; `TwilioReadError` when Twilio refused or failed."""
        ...

    def call_recordings(self, call_sid: str) -> tuple[TwilioRecording, ...]:
        """The call's recordings (at most `MAX_RECORDINGS`); `TwilioReadError` as above."""
        ...


@dataclass
class TwilioRestReader:
    """`TwilioReader` over the `twilio` library: one client per container, created on first use."""

    account_sid: str
    auth_token: str = field(repr=False)
    base_url: str = "https://api.twilio.com"
    timeout_seconds: float = REQUEST_TIMEOUT_SECONDS
    _client: Client | None = field(default=None, init=False, repr=False)
    _lock: Lock = field(default_factory=Lock, init=False, repr=False)

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                from twilio.http.http_client import TwilioHttpClient
                from twilio.rest import Client

                http = TwilioHttpClient(timeout=self.timeout_seconds)
                client = Client(self.account_sid, self.auth_token, http_client=http)
                client.api.base_url = self.base_url.rstrip("/")
                self._client = client
            return self._client

    def fetch_call(self, call_sid: str) -> TwilioCall:
        instance = _read(f"call {call_sid}", lambda: self.client().calls(call_sid).fetch())
        return call_of(instance)

    def call_recordings(self, call_sid: str) -> tuple[TwilioRecording, ...]:
        instances = _read(
            f"recordings of {call_sid}",
            lambda: self.client().calls(call_sid).recordings.list(limit=MAX_RECORDINGS),
        )
        return tuple(recording_of(instance, self.media_url(instance.sid)) for instance in instances)

    def media_url(self, recording_sid: str | None) -> str:
        base = self.base_url.rstrip("/")
        return f"{base}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{recording_sid}"


def _read(what: str, request: Any) -> Any:
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        return request()
    except TwilioRestException as exc:
        raise TwilioReadError(
            f"Twilio answered {exc.status} to the read of {what}: {exc.msg} (code {exc.code})",
            http_status=exc.status,
            code=exc.code,
        ) from exc
    except TwilioException as exc:  # a list page Twilio refused carries the response, not a status
        statuses = (getattr(arg, "status_code", None) for arg in exc.args)
        status = next((code for code in statuses if isinstance(code, int)), None)
        raise TwilioReadError(f"Twilio answered {status} to the read of {what}", http_status=status) from exc
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors; a body that is not JSON
        raise TwilioReadError(f"Twilio could not be read ({what}): {exc}") from exc


def call_of(instance: Any) -> TwilioCall:
    """A `TwilioCall` from the library's `CallInstance` (its JSON fields, times parsed)."""
    return TwilioCall(
        sid=str(instance.sid),
        status=_text(instance.status),
        direction=_text(instance.direction),
        parent_call_sid=_text(instance.parent_call_sid),
        start_time=_utc(instance.start_time),
        end_time=_utc(instance.end_time),
        date_updated=_utc(instance.date_updated),
        duration_seconds=_whole(instance.duration),
        answered_by=_text(instance.answered_by),
        price=_text(instance.price),
        price_unit=_text(instance.price_unit),
    )


def recording_of(instance: Any, url: str) -> TwilioRecording:
    """A `TwilioRecording` from the library's `RecordingInstance`."""
    return TwilioRecording(
        sid=str(instance.sid),
        url=url,
        status=_text(instance.status),
        start_time=_utc(instance.start_time),
        date_created=_utc(instance.date_created),
        duration_seconds=_whole(instance.duration),
        channels=_whole(instance.channels),
        source=_text(instance.source),
        track=_text(instance.track),
        error_code=_text(instance.error_code),
        price=_text(instance.price),
        price_unit=_text(instance.price_unit),
    )


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _whole(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _utc(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None
