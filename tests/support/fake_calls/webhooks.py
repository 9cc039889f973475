"""Fake of `DynamoWebhookCalls`: parties; the status, recording and leg writes are
`FakeCallStatusWrites`'."""

from __future__ import annotations

from shared.dal.records import CallUpsert
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
