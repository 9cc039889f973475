"""`DynamoWebhookCalls`: the webhooks tier's writes to the call record (`WebhookCallWrites`).

Twilio's callbacks arrive in any order, twice, or for a call never seen, so each write is one
UpdateItem that is safe to repeat and reorder, and may create the item. The status, recording and
leg writes are `DynamoCallStatusWrites`' (`status.py`, shared with the sweeper). What a change must
keep: first-seen values use `if_not_exists`; `Call Completed` is claimed once per call and
`Recording Completed` once per recording SID.
"""

from __future__ import annotations

from typing import Any

from shared.dal.calls.status import DynamoCallStatusWrites
from shared.dal.records import CallUpsert, CompletedCall
from shared.status import TERMINAL_RANK


class DynamoWebhookCalls(DynamoCallStatusWrites):
    """`WebhookCallWrites`: parties, status, recording, legs, and the claims behind the events."""

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

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        m = self._table.model
        record = self._table.update_returning(
            call_sid,
            [m.call_completed_event_at.set(claimed_at)],
            (m.status_rank == TERMINAL_RANK) & m.call_completed_event_at.does_not_exist(),
            f"completion claim of {call_sid}",
        )
        if record is None:
            return None
        duration = record.duration_seconds
        return CompletedCall(
            call_sid=call_sid,
            status=str(record.status),
            duration_seconds=None if duration is None else int(duration),
        )

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        m = self._table.model
        self._table.update(
            call_sid,
            [m.call_completed_event_at.remove()],
            m.call_completed_event_at == claimed_at,
            f"releasing the completion claim of {call_sid}",
        )

    def claim_recording_event(self, call_sid: str, recording_sid: str) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [m.recording_event_sids.add({recording_sid}), m.updated_at.set(self._table.now())],
            m.recording_event_sids.does_not_exist() | ~m.recording_event_sids.contains(recording_sid),
            f"recording event claim of {call_sid}",
        )

    def release_recording_event(self, call_sid: str, recording_sid: str) -> None:
        m = self._table.model
        self._table.update(
            call_sid,
            [m.recording_event_sids.delete({recording_sid})],
            m.recording_event_sids.contains(recording_sid),
            f"releasing the recording event claim of {call_sid}",
        )
