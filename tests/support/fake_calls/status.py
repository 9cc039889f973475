"""Fake of `DynamoCallStatusWrites`: status only up, completed recording kept, legs on parents."""

from __future__ import annotations

from shared.dal.keys import sweep_shard
from shared.dal.records import RECORDING_COMPLETED, RecordingUpdate, StatusAdvance
from shared.status import TERMINAL_RANK
from tests.support.fake_calls.core import Item
from tests.support.fake_calls.cost import FakeCostWrites


class FakeCallStatusWrites(FakeCostWrites):
    def advance_status(self, advance: StatusAdvance) -> bool:
        def outranks(item: Item) -> bool:
            return item.get("status_rank") is None or item["status_rank"] < advance.rank

        def apply(item: Item) -> None:
            item.update(status=advance.status, status_rank=advance.rank)
            item.setdefault("started_at", advance.at)
            item.setdefault("call_date", advance.at[:10])
            if advance.parties is not None:
                for name, value in advance.parties.present().items():
                    item.setdefault(name, value)
            if advance.answered_at is not None:
                item.setdefault("answered_at", advance.answered_at)
            if advance.ended_at is not None:
                item["ended_at"] = advance.ended_at
            if advance.duration_seconds is not None:
                item["duration_seconds"] = advance.duration_seconds
            if advance.answered_by:
                item["answered_by"] = advance.answered_by
            if advance.sip_response_code is not None:
                item["sip_response_code"] = advance.sip_response_code
            if advance.sweep_after is not None:
                if advance.rank == TERMINAL_RANK:
                    item["sweep_after"] = advance.sweep_after
                else:
                    item.setdefault("sweep_after", advance.sweep_after)
                item["sweep_shard"] = sweep_shard(advance.call_sid)
            item.setdefault("status_history", {})[advance.status] = advance.at

        return self.table.update(advance.call_sid, apply, outranks)

    def update_recording(self, update: RecordingUpdate) -> bool:
        def keeps_completed(item: Item) -> bool:
            existing = item.get("recording")
            return (
                update.status == RECORDING_COMPLETED
                or existing is None
                or existing.get("status") != RECORDING_COMPLETED
            )

        def apply(item: Item) -> None:
            item["recording"] = update.as_item(self.table.now)

        return self.table.update(update.call_sid, apply, keeps_completed)

    def add_leg(self, parent_call_sid: str, leg_call_sid: str) -> bool:
        def apply(item: Item) -> None:
            item.setdefault("leg_call_sids", set()).add(leg_call_sid)

        return self.table.update(
            parent_call_sid,
            apply,
            lambda item: "call_sid" in item and leg_call_sid not in item.get("leg_call_sids", ()),
        )
