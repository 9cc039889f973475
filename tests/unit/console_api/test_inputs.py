"""GET /calls's query string: defaults, days and times, filters, limits and the cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.console_api.inputs import DEFAULT_LIMIT, decode_cursor, encode_cursor, list_query
from shared.dal.records import CallListPosition
from shared.errors import MalformedRequestError

NOW = datetime(2026, 12, 7, 18, 30, 5, 123000, tzinfo=UTC)
SID = "CA" + "c" * 32


def test_the_default_is_the_last_week_up_to_now() -> None:
    query = list_query(None, NOW, 4)
    assert (query.first_day, query.last_day) == ("2026-11-30", "2026-12-07")
    assert (query.started_from, query.started_to) == ("2026-11-30T18:30:05.123Z", "2026-12-07T18:30:05.123Z")
    assert (query.limit, query.statuses, query.route, query.number, query.live_only, query.after) == (
        DEFAULT_LIMIT, None, None, None, False, None,
    )  # fmt: skip


def test_days_cover_whole_days_and_times_are_taken_in_utc() -> None:
    days = list_query({"from": "2026-12-01", "to": "2026-12-03"}, NOW, 4)
    assert (days.started_from, days.started_to) == ("2026-12-01T00:00:00.000Z", "2026-12-03T23:59:59.999Z")
    times = list_query({"from": "2026-12-01T10:00:00+02:00", "to": "2026-12-01T12:00:00Z"}, NOW, 4)
    assert (times.first_day, times.last_day) == ("2026-12-01", "2026-12-01")
    assert (times.started_from, times.started_to) == ("2026-12-01T08:00:00.000Z", "2026-12-01T12:00:00.000Z")


def test_live_is_the_window_of_calls_not_ended() -> None:
    query = list_query({"live": "true", "from": "2020-01-01"}, NOW, 4)
    assert query.live_only
    assert (query.started_from, query.started_to) == ("2026-12-07T14:30:05.123Z", "2026-12-07T18:30:05.123Z")
    late = list_query({"live": "true"}, datetime(2026, 12, 7, 1, 0, tzinfo=UTC), 4)
    assert (late.first_day, late.last_day) == ("2026-12-06", "2026-12-07")  # the window crosses midnight


def test_filters() -> None:
    query = list_query(
        {"status": "completed, busy", "route": "forward", "number": "+14155550100", "limit": "100"}, NOW, 4
    )
    assert query.statuses == {"completed", "busy"}
    assert (query.route, query.number, query.limit) == ("forward", "+14155550100", 100)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-12-08", "to": "2026-12-07"},
        {"from": "2024-01-01", "to": "2026-12-07"},  # more than a year
        {"from": "2026-13-01"},
        {"from": "yesterday"},
        {"to": "2026-12-01T10:00:00"},  # no zone
        {"status": "done"},
        {"status": ","},
        {"route": "Forward!"},
        {"number": "4155550100"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "1e2"},
        {"live": "maybe"},
        {"cursor": "!!"},
    ],
)
def test_bad_parameters_are_400(params: dict[str, str]) -> None:
    with pytest.raises(MalformedRequestError):
        list_query(params, NOW, 4)


def test_a_cursor_round_trips_and_is_checked() -> None:
    position = CallListPosition(day="2026-12-05", started_at="2026-12-05T10:00:00.000Z", call_sid=SID)
    cursor = encode_cursor(position)
    assert decode_cursor(cursor, "2026-12-01", "2026-12-07") == position
    day_only = CallListPosition(day="2026-12-04")
    assert decode_cursor(encode_cursor(day_only), "2026-12-01", "2026-12-07") == day_only
    assert list_query({"cursor": cursor}, NOW, 4).after == position
    with pytest.raises(MalformedRequestError, match="another date range"):
        decode_cursor(cursor, "2026-12-06", "2026-12-07")
    for bad in (
        cursor[:-2],
        cursor + "A",
        encode_cursor(CallListPosition(day="2026-12-05", started_at="x", call_sid=SID)),
    ):
        with pytest.raises(MalformedRequestError):
            decode_cursor(bad, "2026-12-01", "2026-12-07")
