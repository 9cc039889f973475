"""`GET /calls`'s query string, parsed into the data layer's `CallListQuery` (400 for anything bad).

- `from`, `to`: a UTC day (`2026-12-07`: the whole day) or an ISO-8601 time with its zone; default
  the last `DEFAULT_DAYS` days up to now; at most `MAX_RANGE_DAYS` apart.
- `status` (comma-separated call statuses), `route`, `number` (our number, E.164): filters.
- `live=true`: calls not yet ended that started within the live window (the board), newest first.
- `limit` (1-100, default 50) and `cursor` (the previous answer's `nextCursor`: opaque, checked to
  be one this API made for a day inside the range asked). Other parameters are ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from shared import clock
from shared.dal.records import CallListPosition, CallListQuery
from shared.errors import MalformedRequestError
from shared.patterns import CALL_SID_PATTERN, E164_PATTERN
from shared.status import CallStatus

DEFAULT_DAYS = 7
MAX_RANGE_DAYS = 366
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 300
_CURSOR_VERSION = 1
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{8,12}Z")
_ROUTE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_LIMIT = re.compile(r"[0-9]{1,3}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_STATUSES = frozenset(status.value for status in CallStatus)


def list_query(query: Mapping[str, str] | None, now: datetime, live_window_hours: float) -> CallListQuery:
    """The list a request asks for; MalformedRequestError (400) naming the first bad parameter."""
    query = query or {}
    if _flag(query.get("live")):
        since = now - timedelta(hours=live_window_hours)
        first, last = since, now
        live = True
    else:
        last = _moment(query["to"], end_of_day=True, name="to") if "to" in query else now
        first = (
            _moment(query["from"], end_of_day=False, name="from")
            if "from" in query
            else last - timedelta(days=DEFAULT_DAYS)
        )
        if first > last:
            raise MalformedRequestError("from must not be after to")
        if last - first > timedelta(days=MAX_RANGE_DAYS):
            raise MalformedRequestError(f"from and to may be at most {MAX_RANGE_DAYS} days apart")
        live = False
    first_day, last_day = first.date().isoformat(), last.date().isoformat()
    return CallListQuery(
        first_day=first_day,
        last_day=last_day,
        started_from=clock.iso(first),
        started_to=clock.iso(last),
        statuses=_statuses(query["status"]) if "status" in query else None,
        route=_matching(query, "route", _ROUTE, "route must be a route name such as forward"),
        number=_matching(
            query, "number", re.compile(E164_PATTERN.strip("^$")), "number must be E.164, e.g. +14155550100"
        ),
        live_only=live,
        limit=_limit(query["limit"]) if "limit" in query else DEFAULT_LIMIT,
        after=decode_cursor(query["cursor"], first_day, last_day) if "cursor" in query else None,
    )


def encode_cursor(position: CallListPosition) -> str:
    payload = {"v": _CURSOR_VERSION, "d": position.day, "s": position.started_at, "c": position.call_sid}
    text = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, first_day: str, last_day: str) -> CallListPosition:
    """The position a cursor names, if it is one this API made for a day in [first_day, last_day]."""
    if not 0 < len(cursor) <= MAX_CURSOR_CHARS or not _BASE64URL.fullmatch(cursor):
        raise MalformedRequestError("cursor is not valid")
    try:
        payload = json.loads(
            base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        )
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequestError("cursor is not valid") from exc
    if not isinstance(payload, dict):
        raise MalformedRequestError("cursor is not valid")
    day, started_at, call_sid = payload.get("d"), payload.get("s"), payload.get("c")
    keyed = isinstance(started_at, str) and isinstance(call_sid, str)
    if not isinstance(day, str) or not _DAY.fullmatch(day) or not (keyed or started_at is call_sid is None):
        raise MalformedRequestError("cursor is not valid")
    if keyed and (
        not _STORED_TIME.fullmatch(str(started_at)) or not re.fullmatch(CALL_SID_PATTERN, str(call_sid))
    ):
        raise MalformedRequestError("cursor is not valid")
    position = CallListPosition(day=day, started_at=started_at, call_sid=call_sid)
    if encode_cursor(position) != cursor:  # another version, field or spelling
        raise MalformedRequestError("cursor is not valid")
    if not first_day <= day <= last_day:
        raise MalformedRequestError("cursor belongs to another date range")
    return position


def _flag(value: str | None) -> bool:
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise MalformedRequestError("live must be true or false")


def _moment(value: str, *, end_of_day: bool, name: str) -> datetime:
    if _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise MalformedRequestError(f"{name} is not a date") from exc
        moment = datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        return moment.replace(microsecond=999_000) if end_of_day else moment
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedRequestError(f"{name} must be a day (YYYY-MM-DD) or an ISO-8601 time") from exc
    if parsed.tzinfo is None:
        raise MalformedRequestError(f"{name} must name its time zone (e.g. Z)")
    return parsed.astimezone(UTC)


def _statuses(value: str) -> frozenset[str]:
    statuses = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = statuses - _STATUSES
    if not statuses or unknown:
        raise MalformedRequestError(f"status must be among {', '.join(sorted(_STATUSES))}")
    return statuses


def _matching(query: Mapping[str, str], name: str, pattern: re.Pattern[str], message: str) -> str | None:
    if name not in query:
        return None
    if not pattern.fullmatch(query[name]):
        raise MalformedRequestError(message)
    return query[name]


def _limit(value: str) -> int:
    if not _LIMIT.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise MalformedRequestError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)
