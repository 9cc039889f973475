"""`DynamoCallList`: the people's call list (`CallListReader`), newest first, through calls_by_day.

The index's partition is the call's UTC day and its sort key the start time, so a page is one Query
per day, newest day first, read backwards (`ScanIndexForward=False`); the start-time bounds are the
key condition, the other filters (status, route, our number, live; and never a `<Dial>`ed leg: legs
are shown on their call's page) a filter expression applied to the day's items. What a change must
keep: never a Scan; a page reads at most `MAX_DAYS_PER_PAGE` day partitions and then answers with
where to go on (so an empty month costs bounded requests per page); the position resumes exactly
after the last call sent (the index's key: day, start, call SID).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from shared.dal.calls.core import CallTableAdapter, to_call
from shared.dal.records import Call, CallListPage, CallListPosition, CallListQuery
from shared.status import TERMINAL_RANK

MAX_DAYS_PER_PAGE = 14


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


class DynamoCallList(CallTableAdapter):
    """`CallListReader` over the calls_by_day index."""

    def list_calls(self, query: CallListQuery) -> CallListPage:
        m = self._table.model
        found: list[Call] = []
        position = query.after or CallListPosition(day=query.last_day)
        day, start_key = position.day, _start_key(position)
        for _ in range(MAX_DAYS_PER_PAGE):
            if day < query.first_day:
                return CallListPage(tuple(found), None)
            items, last_key = self._table.query_page(
                m.calls_by_day,
                day,
                self._range(query),
                what=f"listing the calls of {day}",
                filter_condition=self._filter(query),
                scan_index_forward=False,
                limit=query.limit - len(found),
                last_evaluated_key=start_key,
            )
            found.extend(to_call(item) for item in items)
            if len(found) >= query.limit and last_key is not None:
                return CallListPage(tuple(found), _position(day, last_key))
            day, start_key = previous_day(day), None
            if len(found) >= query.limit:
                break
        return CallListPage(tuple(found), CallListPosition(day=day) if day >= query.first_day else None)

    def _range(self, query: CallListQuery) -> Any:
        started = self._table.model.started_at
        if query.started_from is not None and query.started_to is not None:
            return started.between(query.started_from, query.started_to)
        if query.started_from is not None:
            return started >= query.started_from
        if query.started_to is not None:
            return started <= query.started_to
        return None

    def _filter(self, query: CallListQuery) -> Any:
        m = self._table.model
        conditions: list[Any] = [m.parent_call_sid.does_not_exist()]  # legs are listed on their call
        if query.statuses is not None:
            conditions.append(m.status.is_in(*sorted(query.statuses)))
        if query.route is not None:
            conditions.append(m.route == query.route)
        if query.number is not None:
            conditions.append((m.to_number == query.number) | (m.from_number == query.number))
        if query.live_only:
            conditions.append(m.status_rank.does_not_exist() | (m.status_rank < TERMINAL_RANK))
        combined = None
        for condition in conditions:
            combined = condition if combined is None else combined & condition
        return combined


def _start_key(position: CallListPosition) -> dict[str, dict[str, str]] | None:
    if position.started_at is None or position.call_sid is None:
        return None
    return {
        "call_sid": {"S": position.call_sid},
        "call_date": {"S": position.day},
        "started_at": {"S": position.started_at},
    }


def _position(day: str, last_key: dict[str, Any]) -> CallListPosition:
    return CallListPosition(
        day=day, started_at=str(last_key["started_at"]["S"]), call_sid=str(last_key["call_sid"]["S"])
    )
