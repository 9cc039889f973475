"""What the outbox would announce for the writes a fake calls table saw (its `stream`).

The same transitions (`functions.outbox.changes`) and the same EventBridge mapping
(`functions.outbox.bus.contract_event`) the outbox Lambda runs, over the fake table's (old, new)
items, so a tier's unit test can say which events its writes make without a stream or a bus.
"""

from __future__ import annotations

from functions.outbox.bus import contract_event
from functions.outbox.changes import Change, changes
from shared.dal.records import Call
from shared.events import DomainEvent
from tests.support.fake_calls.core import FakeCallTable


def table_changes(table: FakeCallTable, call_sid: str | None = None) -> list[Change]:
    found: list[Change] = []
    for old, new in list(table.stream):
        if call_sid is not None and new.get("call_sid") != call_sid:
            continue
        found += changes(None if old is None else Call.from_item(old), Call.from_item(new))
    return found


def announced(table: FakeCallTable, call_sid: str | None = None) -> list[DomainEvent]:
    """The contract events the outbox publishes for the table's writes so far, in order."""
    return [event for change in table_changes(table, call_sid) if (event := contract_event(change))]
