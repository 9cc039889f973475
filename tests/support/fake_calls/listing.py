"""`FakeCallList`: the call list over the fake table, as `DynamoCallList` pages it through calls_by_day.

An item is in the index only with both `call_date` and `started_at`; days newest first, within a day
(start, call SID) descending; a position resumes strictly after the call it names. The filters are
the adapter's. The fake reads every day at once (no per-page day budget): a page may hold more calls
than the adapter's would, never other ones, and following pages to the end yields the same list.
"""

from __future__ import annotations

from shared.dal.records import Call, CallListPage, CallListPosition, CallListQuery
from shared.status import TERMINAL_RANK
from tests.support.fake_calls.core import FakeCallReader, Item


class FakeCallList(FakeCallReader):
    def list_calls(self, query: CallListQuery) -> CallListPage:
        after = query.after
        items = sorted(
            self.table.query(lambda item: _listed(item, query)),
            key=lambda item: (item["call_date"], item["started_at"], item["call_sid"]),
            reverse=True,
        )
        if after is not None:
            bound = (after.day, after.started_at or "\uffff", after.call_sid or "\uffff")
            items = [
                item for item in items if (item["call_date"], item["started_at"], item["call_sid"]) < bound
            ]
        page = items[: query.limit]
        if len(items) <= query.limit:
            return CallListPage(tuple(Call.from_item(item) for item in page), None)
        last = page[-1]
        position = CallListPosition(
            day=last["call_date"], started_at=last["started_at"], call_sid=last["call_sid"]
        )
        return CallListPage(tuple(Call.from_item(item) for item in page), position)


def _listed(item: Item, query: CallListQuery) -> bool:
    day, started = item.get("call_date"), item.get("started_at")
    if not day or not started or not query.first_day <= day <= query.last_day:
        return False
    if item.get("parent_call_sid") is not None:  # legs are listed on their call
        return False
    if query.started_from is not None and started < query.started_from:
        return False
    if query.started_to is not None and started > query.started_to:
        return False
    if query.statuses is not None and item.get("status") not in query.statuses:
        return False
    if query.route is not None and item.get("route") != query.route:
        return False
    if query.number is not None and query.number not in (item.get("to_number"), item.get("from_number")):
        return False
    rank = item.get("status_rank")
    return not (query.live_only and rank is not None and rank >= TERMINAL_RANK)
