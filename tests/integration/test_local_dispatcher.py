"""The local EventBridge → summaries dispatcher: rule matching, the added `account`, retries, DLQ.

Real moto server (fixture `local_stack`), real PutEvents through the product's publisher; only the
summaries handler is replaced, by a function that fails on purpose: the boundary under test is the
delivery, not the summariser. On a bus of this module's own: the session's bus carries what the
outbox announces of other tests' calls, which these rules would match too.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from callscribe_local.aws_local import LOCAL_ACCOUNT, LocalAws
from callscribe_local.dispatcher import Delivery, LocalDispatcher, RetryPolicy
from shared import aws
from shared.events import (
    CallCompleted,
    EventBridgePublisher,
    RecordingCompleted,
    TranscriptCompleted,
    TranscriptReconciled,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bus(local_stack: LocalAws) -> str:
    name = f"dispatch-{uuid.uuid4().hex[:8]}"
    aws.events().create_event_bus(Name=name)
    return name


class FlakyHandler:
    """Fails the first `failures` calls, then succeeds; remembers every event it was given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, str]:
        self.events.append(event)
        self.contexts.append(context)
        if len(self.events) <= self.failures:
            raise RuntimeError(f"summariser unavailable (call {len(self.events)})")
        return {"status": "ok"}


def _dispatcher(bus: str, handler: FlakyHandler, attempts: int = 3) -> LocalDispatcher:
    dispatcher = LocalDispatcher(
        bus,
        handler,
        policy=RetryPolicy(max_attempts=attempts, base_delay=0.0),  # SQS visibility 0: due at once
        name=f"summaries-{uuid.uuid4().hex[:8]}",
    )
    dispatcher.install()
    return dispatcher


def _step_until(dispatcher: LocalDispatcher, count: int, timeout: float = 10.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while len(dispatcher.deliveries) < count and time.monotonic() < deadline:
        dispatcher.poll_once()
    return dispatcher.deliveries


def _publish(bus: str, *events: Any) -> None:
    publisher = EventBridgePublisher(aws.events(), bus)
    for event in events:
        publisher.publish(event)


def test_retries_then_delivers_with_account(bus: str, call_sid: str) -> None:
    handler = FlakyHandler(failures=2)
    dispatcher = _dispatcher(bus, handler)
    _publish(bus, TranscriptCompleted(callSid=call_sid, segmentCount=4))

    deliveries = _step_until(dispatcher, 3)

    assert [(d.attempt, d.ok) for d in deliveries] == [(1, False), (2, False), (3, True)]
    assert "summariser unavailable" in (deliveries[0].error or "")
    assert {d.call_sid for d in deliveries} == {call_sid}
    event = handler.events[-1]
    assert event["account"] == LOCAL_ACCOUNT  # moto leaves it out; Powertools requires it
    assert event["detail-type"] == "Transcript Completed"
    assert event["detail"] == {"callSid": call_sid, "segmentCount": 4, "transcriptStatus": "completed"}
    assert handler.contexts[-1].get_remaining_time_in_millis() > 0
    assert dispatcher.dead_letters() == []
    assert dispatcher.poll_once() == []  # delivered once: nothing comes back


def test_gives_up_after_the_policy_and_dead_letters(bus: str, call_sid: str) -> None:
    handler = FlakyHandler(failures=99)
    dispatcher = _dispatcher(bus, handler, attempts=2)
    _publish(bus, TranscriptCompleted(callSid=call_sid, segmentCount=1))

    deliveries = _step_until(dispatcher, 2)

    assert [(d.attempt, d.ok, d.dead_lettered) for d in deliveries] == [(1, False, False), (2, False, True)]
    assert len(handler.events) == 2
    dead = dispatcher.dead_letters()
    assert len(dead) == 1
    assert dead[0]["event"]["detail"]["callSid"] == call_sid
    assert "summariser unavailable (call 2)" in dead[0]["attributes"]["ERROR_MESSAGE"]["StringValue"]
    assert dead[0]["attributes"]["ATTEMPTS"]["StringValue"] == "2"
    assert dispatcher.poll_once() == []  # gone from the target queue


def test_only_transcript_completed_matches_the_rule(bus: str, call_sid: str) -> None:
    handler = FlakyHandler(failures=0)
    dispatcher = _dispatcher(bus, handler)
    _publish(
        bus,
        CallCompleted(callSid=call_sid, status="completed", durationSeconds=3),
        TranscriptCompleted(callSid=call_sid, segmentCount=2),
    )

    deliveries = _step_until(dispatcher, 1)
    dispatcher.poll_once()

    assert [d.ok for d in deliveries] == [True]
    assert [e["detail-type"] for e in handler.events] == ["Transcript Completed"]


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)
    assert [policy.delay_before(n) for n in range(2, 7)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert RetryPolicy.lambda_async().max_attempts == 3


def test_one_dispatcher_per_rule_each_with_its_own_types_name_and_timeout(bus: str, call_sid: str) -> None:
    """As the local stack wires them: summaries take Completed and Reconciled, recordings theirs."""
    summaries, recordings = FlakyHandler(failures=0), FlakyHandler(failures=0)
    suffix = uuid.uuid4().hex[:8]
    to_summaries = LocalDispatcher(
        bus,
        summaries,
        policy=RetryPolicy(max_attempts=1, base_delay=0.0),
        name=f"summaries-{suffix}",
        detail_types=(TranscriptCompleted.detail_type, TranscriptReconciled.detail_type),
    )
    to_recordings = LocalDispatcher(
        bus,
        recordings,
        policy=RetryPolicy(max_attempts=1, base_delay=0.0),
        name=f"recordings-{suffix}",
        detail_types=(RecordingCompleted.detail_type,),
        timeout_seconds=900.0,
    )
    to_summaries.install()
    to_recordings.install()
    _publish(
        bus,
        RecordingCompleted(
            callSid=call_sid,
            recordingSid="RE" + "1" * 32,
            channels=2,
            durationSeconds=43,
            startTime="2026-11-22T09:30:06.000Z",
        ),
        TranscriptReconciled(callSid=call_sid, segmentCount=5, filledSeconds=1.5, transcriptVersion="v1"),
        TranscriptCompleted(callSid=call_sid, segmentCount=4),
    )

    _step_until(to_summaries, 2)
    _step_until(to_recordings, 1)

    summarised = sorted(e["detail-type"] for e in summaries.events)
    assert summarised == ["Transcript Completed", "Transcript Reconciled"]
    assert [e["detail-type"] for e in recordings.events] == ["Recording Completed"]
    assert recordings.events[0]["detail"]["startTime"] == "2026-11-22T09:30:06.000Z"
    context = recordings.contexts[0]
    assert context.function_name == f"recordings-{suffix}-local"
    assert context.get_remaining_time_in_millis() > 60_000  # the recordings Lambda's 15 minutes


def test_a_long_delivery_does_not_hold_back_the_next(local_stack: LocalAws) -> None:
    """As Lambda runs invocations concurrently: with room for two, a second call's event is delivered
    while the first call's handler is still running; the first then finishes, each delivered once."""
    long_call, short_call = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    release = threading.Event()
    delivered: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        sid = event["detail"]["callSid"]
        if sid == long_call:
            assert release.wait(60), "the test never released the long delivery"
        delivered.append(sid)
        return {"status": "ok"}

    dispatcher = LocalDispatcher(
        local_stack.names.event_bus_name,
        handler,
        policy=RetryPolicy(max_attempts=1, base_delay=0.0),
        name=f"concurrent-{uuid.uuid4().hex[:8]}",
        concurrency=2,
    )
    with dispatcher:
        _publish(local_stack.names.event_bus_name, TranscriptCompleted(callSid=long_call, segmentCount=1))
        _publish(local_stack.names.event_bus_name, TranscriptCompleted(callSid=short_call, segmentCount=1))
        try:
            deadline = time.monotonic() + 30
            while short_call not in delivered:  # the long one still holds its slot
                assert time.monotonic() < deadline, dispatcher.deliveries
                time.sleep(0.05)
            assert delivered == [short_call]
        finally:
            release.set()
        deadline = time.monotonic() + 30
        while len(dispatcher.deliveries) < 2:
            assert time.monotonic() < deadline, dispatcher.deliveries
            time.sleep(0.05)
    assert delivered == [short_call, long_call]
    assert all(d.ok and d.attempt == 1 for d in dispatcher.deliveries)  # received once each


def test_concurrency_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LocalDispatcher("bus", FlakyHandler(0), concurrency=0)
