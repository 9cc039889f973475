"""The JSON shapes of Twilio's 2010-04-01 REST API that the Twilio stand-in answers with.

Shapes follow Twilio's API reference (the fixtures in tests/fixtures/twilio/ cite where each comes
from): the Call resource, the Recording resource (also as an item of a call's recordings list), a
list page, and an error; `Rates` prices a finished call and a recording as Twilio bills them. Times
are RFC 2822 as Twilio writes them ("Fri, 18 Oct 2019 17:03:00 +0000"); numbers that Twilio gives
as strings (`duration`, `price`) stay strings.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

API_VERSION = "2010-04-01"
PAGE_SIZE = 50

# The Call resource's subresources, as Twilio lists them.
_CALL_SUBRESOURCES = (
    ("notifications", "Notifications"),
    ("recordings", "Recordings"),
    ("payments", "Payments"),
    ("events", "Events"),
    ("siprec", "Siprec"),
    ("streams", "Streams"),
    ("transcriptions", "Transcriptions"),
    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
    ("user_defined_messages", "UserDefinedMessages"),
)


@dataclass(frozen=True)
class Rates:
    """What the stand-in bills, USD: Twilio's US list prices (docs/costs.md), per started minute."""

    inbound_per_minute: float = 0.0085
    outbound_per_minute: float = 0.014
    recording_per_minute: float = 0.0025

    def call_price(self, call: dict[str, Any]) -> str | None:
        """The Call resource's `price` once it completed (negative, as Twilio reports a charge)."""
        if call.get("status") != "completed" or call.get("duration") in (None, ""):
            return None
        rate = self.inbound_per_minute if call.get("direction") == "inbound" else self.outbound_per_minute
        return _charge(_minutes(float(call["duration"])) * rate)

    def recording_price(self, duration: str) -> str:
        return _charge(_minutes(float(duration or 0)) * self.recording_per_minute)


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60) if seconds > 0 else 0


def _charge(amount: float) -> str:
    return f"{-amount:.5f}"  # Twilio's form: "-0.01700"


def rfc2822(moment: datetime) -> str:
    """Twilio's time format, whole seconds, always +0000."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def now_rfc2822() -> str:
    return rfc2822(datetime.now(UTC))


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def call_resource(account_sid: str, sid: str, **fields: Any) -> dict[str, Any]:
    """The Call resource of `sid`, with `fields` (Twilio's own names) over a new call's defaults."""
    now = now_rfc2822()
    base = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
    from_ = fields.get("from")
    call: dict[str, Any] = {
        "account_sid": account_sid,
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
        "phone_number_sid": "PN" + uuid.uuid5(uuid.NAMESPACE_URL, str(from_)).hex,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {key: f"{base}/{name}.json" for key, name in _CALL_SUBRESOURCES},
        "to": fields.get("to"),
        "to_formatted": fields.get("to"),
        "trunk_sid": None,
        "uri": f"{base}.json",
    }
    call.update(fields)
    return call


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
    price: str | None = None  # negative for a charge, as Twilio reports it; None until priced


def recording_resource(
    account_sid: str, recording: StoredRecording, *, media_base: str = "", under_call: bool = False
) -> dict[str, Any]:
    """The Recording resource (`under_call`: as an item of `…/Calls/{CA}/Recordings.json`, whose
    `uri` is the call's subresource and which has no `media_url`)."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Recordings/{recording.sid}"
    start = recording.start_time
    with contextlib.suppress(ValueError):  # whole seconds, RFC 2822, as Twilio shows it
        start = rfc2822(datetime.fromisoformat(start))
    resource: dict[str, Any] = {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "call_sid": recording.call_sid,
        "conference_sid": None,
        "channels": recording.channels,
        "date_created": recording.date_created,
        "date_updated": recording.date_created,
        "start_time": start,
        "price": recording.price,
        "price_unit": "USD",
        "duration": str(round(float(recording.duration or 0))),
        "sid": recording.sid,
        "source": recording.source,
        "status": "completed",
        "error_code": None,
        "encryption_details": None,
        "track": "both" if recording.channels == 2 else "inbound",
        "uri": f"{uri}.json",
    }
    if under_call:
        call = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{recording.call_sid}"
        resource["uri"] = f"{call}/Recordings/{recording.sid}.json"
    else:
        resource["media_url"] = f"{media_base}{uri}"
        resource["subresource_uris"] = {
            "add_on_results": f"{uri}/AddOnResults.json",
            "transcriptions": f"{uri}/Transcriptions.json",
        }
    return resource


def list_page(key: str, uri: str, items: list[dict[str, Any]], page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of a list resource, as Twilio pages the 2010-04-01 lists (all of it on page 0)."""
    first = f"{uri}?PageSize={page_size}&Page=0"
    return {
        "end": max(len(items) - 1, 0),
        "first_page_uri": first,
        "next_page_uri": None,
        "page": 0,
        "page_size": page_size,
        "previous_page_uri": None,
        key: items,
        "start": 0,
        "uri": first,
    }
