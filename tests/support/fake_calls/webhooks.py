"""Fake of `DynamoWebhookCalls`: parties, and the claims once; the status, recording and leg writes
are `FakeCallStatusWrites`'."""

from __future__ import annotations

from shared.dal.records import CallUpsert, CompletedCall
from shared.status import TERMINAL_RANK
from tests.support.fake_calls.core import Item
from tests.support.fake_calls.status import FakeCallStatusWrites


class FakeWebhookCalls(FakeCallStatusWrites):
    def upsert_call(self, upsert: CallUpsert) -> None:
        def apply(item: Item) -> None:
            item.update(upsert.parties.present())
            item.setdefault("started_at", upsert.started_at)
            item.setdefault("call_date", upsert.started_at[:10])
            item.setdefault("status_history", {})
            for name in ("route", "connect_to", "language", "stt_model", "recording_expected"):
                value = getattr(upsert, name)
                if value is not None:
                    item[name] = value

        self.table.update(upsert.call_sid, apply)

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        def claimable(item: Item) -> bool:
            return item.get("status_rank") == TERMINAL_RANK and "call_completed_event_at" not in item

        def apply(item: Item) -> None:
            item["call_completed_event_at"] = claimed_at

        stored = self.table.update_returning(call_sid, apply, claimable)
        if stored is None:
            return None
        return CompletedCall(call_sid, stored["status"], stored.get("duration_seconds"))

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        def apply(item: Item) -> None:
            del item["call_completed_event_at"]

        self.table.update(call_sid, apply, lambda item: item.get("call_completed_event_at") == claimed_at)

    def claim_recording_event(self, call_sid: str, recording_sid: str) -> bool:
        def apply(item: Item) -> None:
            item.setdefault("recording_event_sids", set()).add(recording_sid)

        return self.table.update(
            call_sid, apply, lambda item: recording_sid not in item.get("recording_event_sids", ())
        )

    def release_recording_event(self, call_sid: str, recording_sid: str) -> None:
        def apply(item: Item) -> None:
            item["recording_event_sids"].discard(recording_sid)
            if not item["recording_event_sids"]:
                del item["recording_event_sids"]  # DynamoDB drops an empty set

        self.table.update(call_sid, apply, lambda item: recording_sid in item.get("recording_event_sids", ()))
