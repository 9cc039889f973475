"""`DynamoWebhookCalls`: the webhooks tier's writes to the call record (`WebhookCallWrites`).

Twilio's callbacks arrive in any order, twice, or for a call never seen, so each write is one
UpdateItem that is safe to repeat and reorder, and may create the item. The status, recording and
leg writes are `DynamoCallStatusWrites`' (`status.py`, shared with the sweeper). What a change must
keep: first-seen values use `if_not_exists`. A write that lands is announced by the outbox from the
table's stream (`Call Completed` once the terminal status lands, `Recording Completed` once a
completed recording does), so these writes claim nothing.
"""

from __future__ import annotations

from typing import Any

from shared.dal.calls.status import DynamoCallStatusWrites
from shared.dal.records import CallUpsert


class DynamoWebhookCalls(DynamoCallStatusWrites):
    """`WebhookCallWrites`: parties, status, recording and legs."""

    def upsert_call(self, upsert: CallUpsert) -> None:
        m = self._table.model
        now = self._table.now()
        actions: list[Any] = [getattr(m, name).set(value) for name, value in upsert.parties.present().items()]
        actions += [
            m.started_at.set(m.started_at | upsert.started_at),
            m.call_date.set(m.call_date | upsert.started_at[:10]),
            m.created_at.set(m.created_at | now),
            m.updated_at.set(now),
            # An empty history map lets the status write that follows set its key at the first try.
            m.status_history.set(m.status_history | {}),
        ]
        if upsert.route is not None:
            actions.append(m.route.set(upsert.route))
        if upsert.connect_to is not None:
            actions.append(m.connect_to.set(upsert.connect_to))
        if upsert.language is not None:
            actions.append(m.language.set(upsert.language))
        if upsert.stt_model is not None:
            actions.append(m.stt_model.set(upsert.stt_model))
        if upsert.recording_expected is not None:
            actions.append(m.recording_expected.set(upsert.recording_expected))
        self._table.update(upsert.call_sid, actions, None, f"upsert of {upsert.call_sid}")
