"""An in-memory `CallStore` with the same condition semantics as the DynamoDB adapter.

Each method mirrors one conditional UpdateItem of `shared.cdr.DynamoCallStore`: the same condition,
evaluated atomically (a lock stands in for DynamoDB's per-item atomicity), the same attributes set.
Unit tests use it to run every callback ordering in milliseconds; an integration test replays
shuffled orderings against moto to check the real adapter agrees.
"""

from __future__ import annotations

import threading
from typing import Any

from shared.cdr import CallUpsert, CompletedCall, RecordingUpdate, StatusChange
from shared.events import DomainEvent
from shared.models import CallRecord
from shared.status import TERMINAL_RANK, CallStatus


class FakeCallStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def _item(self, call_sid: str) -> dict[str, Any]:
        return self.items.setdefault(call_sid, {"call_sid": call_sid})

    def upsert_call(self, upsert: CallUpsert) -> None:
        with self._lock:
            self.writes += 1
            item = self._item(upsert.call_sid)
            item.update(upsert.parties.present())
            item.setdefault("started_at", upsert.started_at)
            item.setdefault("call_date", upsert.started_at[:10])
            item.setdefault("status_history", {})
            if upsert.route is not None:
                item["route"] = upsert.route
            if upsert.connect_to is not None:
                item["connect_to"] = upsert.connect_to

    def advance_status(self, change: StatusChange) -> bool:
        with self._lock:
            current = self.items.get(change.call_sid, {}).get("status_rank")
            if current is not None and not current < change.status.rank:
                return False
            self.writes += 1
            item = self._item(change.call_sid)
            item.update(status=change.status.value, status_rank=change.status.rank)
            item.setdefault("started_at", change.at)
            item.setdefault("call_date", change.at[:10])
            if change.parties is not None:
                for name, value in change.parties.present().items():
                    item.setdefault(name, value)
            if change.status is CallStatus.IN_PROGRESS:
                item.setdefault("answered_at", change.at)
            if change.status.is_terminal:
                item["ended_at"] = change.at
                if change.duration_seconds is not None:
                    item["duration_seconds"] = change.duration_seconds
            if change.answered_by:
                item["answered_by"] = change.answered_by
            if change.sip_response_code is not None:
                item["sip_response_code"] = change.sip_response_code
            item.setdefault("status_history", {})[change.status.value] = change.at
            return True

    def update_recording(self, update: RecordingUpdate) -> bool:
        with self._lock:
            existing = self.items.get(update.call_sid, {}).get("recording")
            if (
                update.status != "completed"
                and existing is not None
                and existing.get("status") == "completed"
            ):
                return False
            self.writes += 1
            self._item(update.call_sid)["recording"] = update.as_item("now")
            return True

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        with self._lock:
            item = self.items.get(call_sid)
            if item is None or item.get("status_rank") != TERMINAL_RANK or "call_completed_event_at" in item:
                return None
            self.writes += 1
            item["call_completed_event_at"] = claimed_at
            return CompletedCall(call_sid, item["status"], item.get("duration_seconds"))

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        with self._lock:
            item = self.items.get(call_sid)
            if item is not None and item.get("call_completed_event_at") == claimed_at:
                del item["call_completed_event_at"]

    def get(self, call_sid: str) -> CallRecord | None:
        with self._lock:
            item = self.items.get(call_sid)
            if item is None:
                return None
            return CallRecord(**item)


class FakePublisher:
    """Records published events; can be told to fail the next N publications."""

    def __init__(self, fail_times: int = 0) -> None:
        self.events: list[DomainEvent] = []
        self.fail_times = fail_times
        self._lock = threading.Lock()

    def publish(self, event: DomainEvent) -> None:
        with self._lock:
            if self.fail_times > 0:
                self.fail_times -= 1
                raise ConnectionError("bus unavailable")
            self.events.append(event)
