"""The call status machine over every ordering of a full callback sequence, duplicates included.

Runs the domain logic (`functions.webhooks.cdr.advance`) against the in-memory store, which mirrors
the DynamoDB adapter's conditions, and asks what the outbox announces for the writes that landed
(`tests.support.fake_outbox`); tests/integration/test_webhooks_status_replay.py replays shuffled
orderings against moto and the real outbox to show the real adapter agrees.
"""

from __future__ import annotations

from itertools import permutations

import pytest

from functions.webhooks.cdr import advance
from shared.dal.records import CallParties
from shared.events import CallCompleted, DomainEvent
from shared.status import TERMINAL_RANK, CallStatus
from shared.status_changes import StatusChange
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import announced

SID = "CA" + "1" * 32


def change(status: CallStatus, second: int, duration: int | None = None) -> StatusChange:
    return StatusChange(
        call_sid=SID,
        status=status,
        at=f"2026-11-22T09:30:{second:02d}.000Z",
        duration_seconds=duration,
        parties=CallParties(direction="inbound", from_number="+14155550100", to_number="+14155550199"),
    )


INITIATED = change(CallStatus.INITIATED, 0)
RINGING = change(CallStatus.RINGING, 1)
ANSWERED = change(CallStatus.IN_PROGRESS, 2)
COMPLETED = change(CallStatus.COMPLETED, 51, duration=49)
# The full sequence plus a retried `completed` and a retried `ringing`: 6 callbacks, 720 orderings.
FULL_WITH_DUPLICATES = (INITIATED, RINGING, ANSWERED, COMPLETED, COMPLETED, RINGING)
EXPECTED_EVENT = CallCompleted.model_validate({"callSid": SID, "status": "completed", "durationSeconds": 49})


def replay(order: tuple[StatusChange, ...]) -> tuple[FakeWebhookCalls, list[DomainEvent]]:
    """The store after these callbacks, and what the outbox announces for them."""
    store = FakeWebhookCalls()
    ranks = []
    for callback in order:
        advance(store, callback)
        ranks.append(store.items[SID]["status_rank"])
    assert ranks == sorted(ranks), f"status moved backwards: {[c.status.value for c in order]}"
    return store, announced(store.table)


def test_every_ordering_ends_completed_once_with_one_event() -> None:
    orderings = set(permutations(FULL_WITH_DUPLICATES))
    assert len(orderings) == 180  # distinct orderings of 6 callbacks with two pairs of duplicates
    for order in orderings:
        store, events = replay(order)
        item = store.items[SID]
        assert item["status"] == "completed"
        assert item["status_rank"] == TERMINAL_RANK
        assert item["ended_at"] == COMPLETED.at
        assert item["duration_seconds"] == 49
        assert item["started_at"] == order[0].at  # the first callback to arrive fixes the start
        assert events == [EXPECTED_EVENT]


def test_stale_callbacks_are_refused_after_the_terminal_one() -> None:
    store = FakeWebhookCalls()
    assert advance(store, COMPLETED)
    for late in (INITIATED, RINGING, ANSWERED, COMPLETED):
        assert not advance(store, late)
    assert store.items[SID]["status"] == "completed"
    assert set(store.items[SID]["status_history"]) == {"completed"}
    assert announced(store.table) == [EXPECTED_EVENT]


def test_in_order_sequence_records_each_step_in_the_history() -> None:
    store, _ = replay((INITIATED, RINGING, ANSWERED, COMPLETED))
    item = store.items[SID]
    assert item["status_history"] == {
        "initiated": INITIATED.at,
        "ringing": RINGING.at,
        "in-progress": ANSWERED.at,
        "completed": COMPLETED.at,
    }
    assert item["answered_at"] == ANSWERED.at


@pytest.mark.parametrize("terminal", [s for s in CallStatus if s.is_terminal])
def test_first_terminal_status_wins_and_is_never_replaced(terminal: CallStatus) -> None:
    first = change(terminal, 30, duration=0)
    other = change(CallStatus.COMPLETED if terminal is not CallStatus.COMPLETED else CallStatus.FAILED, 31, 5)
    for order in permutations((RINGING, first, other)):
        store, events = replay(order)
        winner = next(c for c in order if c.status.is_terminal)
        assert store.items[SID]["status"] == winner.status.value
        assert store.items[SID]["ended_at"] == winner.at
        assert [e.status for e in events] == [winner.status.value]  # type: ignore[attr-defined]


def test_callback_for_an_unseen_call_creates_the_record() -> None:
    store = FakeWebhookCalls()
    advance(store, RINGING)
    item = store.items[SID]
    assert item["from_number"] == "+14155550100"
    assert item["direction"] == "inbound"
    assert item["call_date"] == "2026-11-22"
