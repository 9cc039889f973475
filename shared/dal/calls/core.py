"""The calls table's core: a consistent get, one conditional UpdateItem, and index queries.

Every calls adapter reads and writes through a `CallTable`, so every write is exactly one
UpdateItem through `shared.dal.updates.conditional_update` (False when its condition refused it,
`StoreError` when the table failed) and every read hands back a plain `Call`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import Index

from shared import clock
from shared.dal.records import Call, plain
from shared.dal.tables import CallRecord, calls_model
from shared.dal.updates import conditional_update
from shared.errors import StoreError

TRANSCRIPT_ERROR_MAX = 500  # characters of `transcript_error` kept: a reason, not a log


def to_call(record: CallRecord) -> Call:
    """The domain record of a stored item (pynamodb maps and numbers made plain)."""
    return Call.from_item({name: plain(value) for name, value in record.attribute_values.items()})


class CallTable:
    """One calls table: `model` is its bound pynamodb class (attribute paths for conditions)."""

    def __init__(self, table_name: str, now: Callable[[], str] = clock.now_iso) -> None:
        self.model = calls_model(table_name)
        self.now = now

    def get(self, call_sid: str) -> Call | None:
        model = self.model
        try:
            record = model.get(call_sid, consistent_read=True)
        except model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError(f"reading call {call_sid} failed: {exc}") from exc
        return to_call(record)

    def update(self, call_sid: str, actions: Sequence[Any], condition: Any, what: str) -> bool:
        """One UpdateItem of the call's item; False when `condition` refused it."""
        return conditional_update(self.model(call_sid), actions, condition, what)

    def update_returning(
        self, call_sid: str, actions: Sequence[Any], condition: Any, what: str
    ) -> CallRecord | None:
        """`update`, answering the item as stored after the write (None when refused)."""
        record = self.model(call_sid)
        return record if conditional_update(record, actions, condition, what) else None

    def query(
        self,
        index: Index[CallRecord],
        hash_key: str,
        range_key_condition: Any = None,
        *,
        what: str,
        **options: Any,
    ) -> Iterator[CallRecord]:
        """The items of one index partition, in sort-key order (`options`: pynamodb's query's)."""
        try:
            yield from index.query(hash_key, range_key_condition, **options)
        except PynamoDBException as exc:
            raise StoreError(f"{what} failed: {exc}") from exc


    def query_page(
        self,
        index: Index[CallRecord],
        hash_key: str,
        range_key_condition: Any = None,
        *,
        what: str,
        **options: Any,
    ) -> tuple[list[CallRecord], dict[str, Any] | None]:
        """`query`, read to its end or its `limit`, with the key to resume after what it returned
        (None when the partition had nothing more)."""
        try:
            results = index.query(hash_key, range_key_condition, **options)
            items = list(results)
        except PynamoDBException as exc:
            raise StoreError(f"{what} failed: {exc}") from exc
        return items, results.last_evaluated_key


class CallTableAdapter:
    """Base of the calls adapters: each holds one `CallTable`."""

    def __init__(self, calls_table: str, now: Callable[[], str] = clock.now_iso) -> None:
        self._table = CallTable(calls_table, now)


class DynamoCallReader(CallTableAdapter):
    """`CallReader`: the call record, strongly consistent."""

    def get(self, call_sid: str) -> Call | None:
        return self._table.get(call_sid)
