"""Time as the product stores it: ISO-8601 UTC strings with milliseconds and a `Z`.

Strings, not epoch numbers, because analysts read the exports in Athena, where ISO-8601 parses with
`from_iso8601_timestamp` and sorts lexically; `call_date` (YYYY-MM-DD) is the partition-friendly day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(now())


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_rfc2822(value: str) -> datetime | None:
    """Twilio's `Timestamp` parameter ('Sun, 25 Mar 2018 09:53:19 +0000'); None when unparseable."""
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
