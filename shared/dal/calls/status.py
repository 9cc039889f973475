"""`DynamoCallStatusWrites`: what Twilio reports about a call, written the same way however it came.

The webhooks write it from status and recording callbacks; the sweeper from Twilio's REST API when
a callback was lost. Reports arrive in any order, twice, or for a call never seen, so each write is
one UpdateItem that is safe to repeat and reorder, and may create the item. What a change must keep:
a status only moves `status_rank` up and first-seen values use `if_not_exists`; a report other than
`completed` never replaces a completed recording; a leg is noted only on a parent that exists; each
status sets the sweeper's marker (the terminal one replaces an earlier one).
"""

from __future__ import annotations

from typing import Any

from shared.dal.calls.cost import DynamoCostWrites
from shared.dal.keys import sweep_shard
from shared.dal.records import RECORDING_COMPLETED, RecordingUpdate, StatusAdvance
from shared.dal.updates import missing_map
from shared.errors import StoreError
from shared.status import TERMINAL_RANK

_STATUS_HISTORY_ATTEMPTS = 3


class DynamoCallStatusWrites(DynamoCostWrites):
    """`CallStatusWrites`: status, recording and legs (and, through `DynamoCostWrites`, the cost)."""

    def advance_status(self, advance: StatusAdvance) -> bool:
        m = self._table.model
        now = self._table.now()
        actions: list[Any] = [
            m.status.set(advance.status),
            m.status_rank.set(advance.rank),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
            m.started_at.set(m.started_at | advance.at),
            m.call_date.set(m.call_date | advance.at[:10]),
        ]
        if advance.parties is not None:
            for name, value in advance.parties.present().items():
                attribute = getattr(m, name)
                actions.append(attribute.set(attribute | value))
        if advance.answered_at is not None:
            actions.append(m.answered_at.set(m.answered_at | advance.answered_at))
        if advance.ended_at is not None:
            actions.append(m.ended_at.set(advance.ended_at))
        if advance.duration_seconds is not None:
            actions.append(m.duration_seconds.set(advance.duration_seconds))
        if advance.answered_by:
            actions.append(m.answered_by.set(advance.answered_by))
        if advance.sip_response_code is not None:
            actions.append(m.sip_response_code.set(advance.sip_response_code))
        if advance.sweep_after is not None:
            # the terminal status replaces the marker an earlier status set; earlier ones keep the first
            after = advance.sweep_after
            terminal = advance.rank == TERMINAL_RANK
            actions.append(m.sweep_after.set(after if terminal else m.sweep_after | after))
            actions.append(m.sweep_shard.set(sweep_shard(advance.call_sid)))
        condition = m.status_rank.does_not_exist() | (m.status_rank < advance.rank)
        history_key = m.status_history[advance.status].set(advance.at)
        first_history = m.status_history.set({advance.status: advance.at})
        what = f"status update of {advance.call_sid}"
        # status_history is a map; DynamoDB can set a key inside it only once the map exists, so a
        # call seen first by this write creates the map whole (guarded, in case of a concurrent write).
        for _ in range(_STATUS_HISTORY_ATTEMPTS):
            try:
                return self._table.update(advance.call_sid, [*actions, history_key], condition, what)
            except StoreError as exc:
                if not missing_map(exc):
                    raise
            guarded = condition & m.status_history.does_not_exist()
            if self._table.update(advance.call_sid, [*actions, first_history], guarded, what):
                return True
            # Either the call has moved past this status, or a concurrent write made the map.
        raise StoreError(f"status update of {advance.call_sid} kept racing the status history write")

    def update_recording(self, update: RecordingUpdate) -> bool:
        m = self._table.model
        now = self._table.now()
        actions = [
            m.recording.set(update.as_item(now)),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
        ]
        condition = None
        if update.status != RECORDING_COMPLETED:
            condition = m.recording.does_not_exist() | (m.recording.status != RECORDING_COMPLETED)
        return self._table.update(
            update.call_sid, actions, condition, f"recording update of {update.call_sid}"
        )

    def add_leg(self, parent_call_sid: str, leg_call_sid: str) -> bool:
        m = self._table.model
        unseen = m.leg_call_sids.does_not_exist() | ~m.leg_call_sids.contains(leg_call_sid)
        return self._table.update(
            parent_call_sid,
            [m.leg_call_sids.add({leg_call_sid}), m.updated_at.set(self._table.now())],
            m.call_sid.exists() & unseen,
            f"leg {leg_call_sid} of {parent_call_sid}",
        )
