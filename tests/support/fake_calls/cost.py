"""Fake of `DynamoCostWrites`: the cost lands only while the record still holds its `CostBasis`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.dal.records import Call, CostBasis
from tests.support.fake_calls.core import FakeCallReader, Item


class FakeCostWrites(FakeCallReader):
    def save_cost(self, call_sid: str, cost: Mapping[str, Any], basis: CostBasis) -> bool:
        def unchanged(item: Item) -> bool:
            return "call_sid" in item and CostBasis.of(Call.from_item(item)) == basis

        def apply(item: Item) -> None:
            item["cost"] = {name: value for name, value in cost.items() if value is not None}

        return self.table.update(call_sid, apply, unchanged)
