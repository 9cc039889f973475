"""The fake calls table: items by call SID, and the fake of `CallTable` every fake adapter writes through.

`update` is the fake UpdateItem: under one lock (DynamoDB's per-item atomicity) it evaluates the
condition on the stored item (`{}` when there is none, as DynamoDB sees a missing item), and only
then creates the item if needed and applies the write. `writes` counts the writes that landed, and
`stream` keeps each landed write's (old, new) item, in order: the table's DynamoDB stream, which
`tests.support.fake_outbox` turns into what the outbox would announce.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from shared.dal.records import Call

NOW = "2026-11-22T09:31:00.000Z"
TRANSCRIPT_ERROR_MAX = 500  # shared.dal.calls.core.TRANSCRIPT_ERROR_MAX

Item = dict[str, Any]


class FakeCallTable:
    def __init__(self, now: str = NOW) -> None:
        self.items: dict[str, Item] = {}
        self.writes = 0
        self.stream: list[tuple[Item | None, Item]] = []
        self.now = now
        self.lock = threading.Lock()

    def get(self, call_sid: str) -> Call | None:
        with self.lock:
            item = self.items.get(call_sid)
            return None if item is None else Call.from_item(item)

    def update(
        self, call_sid: str, apply: Callable[[Item], object], condition: Callable[[Item], bool] | None = None
    ) -> bool:
        """One conditional write; False when `condition` refused it."""
        return self.update_returning(call_sid, apply, condition) is not None

    def update_returning(
        self, call_sid: str, apply: Callable[[Item], object], condition: Callable[[Item], bool] | None = None
    ) -> Item | None:
        """`update`, answering the item as stored after the write (None when refused)."""
        with self.lock:
            if condition is not None and not condition(self.items.get(call_sid, {})):
                return None
            self.writes += 1
            old = copy.deepcopy(self.items.get(call_sid))
            item = self.items.setdefault(call_sid, {"call_sid": call_sid})
            apply(item)
            self.stream.append((old, copy.deepcopy(item)))
            return dict(item)

    def query(self, where: Callable[[Item], bool]) -> list[Item]:
        """Copies of the items `where` selects (an index's partition and sort-key condition)."""
        with self.lock:
            return [dict(item) for item in self.items.values() if where(item)]


class FakeCallAdapter:
    """Base of the fakes: one `FakeCallTable` (a new one unless shared), and its items to inspect."""

    def __init__(self, table: FakeCallTable | None = None) -> None:
        self.table = table if table is not None else FakeCallTable()

    @property
    def items(self) -> dict[str, Item]:
        return self.table.items

    @property
    def writes(self) -> int:
        return self.table.writes


class FakeCallReader(FakeCallAdapter):
    def get(self, call_sid: str) -> Call | None:
        return self.table.get(call_sid)
