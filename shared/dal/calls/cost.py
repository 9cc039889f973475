"""`DynamoCostWrites`: the call's `cost` map, stored only onto the record it was computed from.

The write is conditioned on every input `shared.costs` read (`CostBasis`), so a cost computed from
a read another writer has since overtaken never lands; it never creates an item. Twilio's bill
(`cost.billed`, the sweeper's) is part of the basis, so a recomputed estimate never drops it. Each tier that
changes what a call cost extends this adapter, as its port extends `CostWrites`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.dal.calls.core import DynamoCallReader
from shared.dal.records import CostBasis
from shared.dal.tables import CallRecord


class DynamoCostWrites(DynamoCallReader):
    """`CostWrites`: `get` and `save_cost`."""

    def save_cost(self, call_sid: str, cost: Mapping[str, Any], basis: CostBasis) -> bool:
        m = self._table.model
        condition = m.call_sid.exists()  # never creates a record: a cost belongs to a call
        for path, value in _cost_basis_paths(m, basis):
            condition &= path.does_not_exist() if value is None else (path == value)
        condition &= m.alignment.exists() if basis.recording_transcribed else m.alignment.does_not_exist()
        return self._table.update(
            call_sid,
            [
                m.cost.set({name: value for name, value in cost.items() if value is not None}),
                m.updated_at.set(self._table.now()),
            ],
            condition,
            f"cost of {call_sid}",
        )


def _cost_basis_paths(m: type[CallRecord], basis: CostBasis) -> list[tuple[Any, Any]]:
    """Each attribute of the record a `CostBasis` field was read from, with the value read."""
    return [
        (m.direction, basis.direction),
        (m.status, basis.status),
        (m.duration_seconds, basis.duration_seconds),
        (m.recording.status, basis.recording_status),
        (m.recording.duration_seconds, basis.recording_duration_seconds),
        (m.recording.channels, basis.recording_channels),
        (m.live_audio_seconds, basis.live_audio_seconds),
        (m.tts_characters, basis.tts_characters),
        (m.summary["estimated_cost_usd"], basis.summary_cost_usd),
        (m.cost.billed.twilio_voice, basis.billed_twilio_voice),
        (m.cost.billed.twilio_recording, basis.billed_twilio_recording),
        (m.cost.billed.total, basis.billed_total),
        (m.cost.billed.price_unit, basis.billed_price_unit),
        (m.cost.billed.read_at, basis.billed_read_at),
    ]
