"""Status callbacks replayed in shuffled orders and concurrently, on moto.

The unit suite runs every ordering against the in-memory store; this replays a sample of them
through the real handler and the real DynamoDB adapter to show both agree, and checks the
exactly-once `Call Completed` (the outbox's, from the table's stream) under concurrent terminal
callbacks. A bus outage and a request dying after its write: tests/integration/test_outbox_stream.py.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

import pytest

from functions.webhooks import logic
from functions.webhooks.inputs import StatusCallback
from tests.support.apigw_events import twilio_event
from tests.support.moto_atomic import atomic_moto_updates  # noqa: F401 - provides the fixture
from tests.support.twilio_forms import status_params, voice_params
from tests.support.webhooks_env import (
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration


def sequence(call_sid: str) -> list[dict[str, Any]]:
    callbacks = [
        status_params(call_sid, "initiated", 0),
        status_params(call_sid, "ringing", 1),
        status_params(call_sid, "in-progress", 2),
        status_params(call_sid, "completed", 3, duration=30),
    ]
    callbacks += [callbacks[3], callbacks[1]]  # a retried completed and a retried ringing
    return [twilio_event("/twilio/status", params) for params in callbacks]


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_orderings_converge(webhooks: Webhooks, bus_tap: Any, seed: int) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    events = sequence(call_sid)
    random.Random(seed).shuffle(events)
    if seed % 2:  # half the runs also see the voice webhook, somewhere in the middle
        events.insert(seed % len(events), twilio_event("/twilio/voice", voice_params(call_sid)))
    for event in events:
        assert webhooks.invoke(event)["statusCode"] in (200, 204)
    record = webhooks.record(call_sid)
    assert record is not None
    assert (record.status, record.status_rank, record.duration_seconds) == ("completed", 4, 30)
    assert record.ended_at == "2026-11-22T09:30:03.000Z"
    assert [e["detail"]["status"] for e in bus_tap.events_for(call_sid, wait_seconds=5)] == ["completed"]


@pytest.mark.usefixtures("atomic_moto_updates")
def test_concurrent_terminal_callbacks_publish_once(webhooks: Webhooks, bus_tap: Any) -> None:
    """Like concurrent Lambda instances: the same domain logic and table, racing from threads.

    (The Powertools resolver keeps per-request state on the module's `app`, as Lambda runs one
    request per instance at a time; so the race is driven below the HTTP layer.)
    """
    call_sid = "CA" + uuid.uuid4().hex
    webhooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    terminal = [
        StatusCallback.from_form(status_params(call_sid, status, 3, duration=duration))
        for status, duration in [("completed", 20), ("completed", 20), ("busy", 0), ("completed", 20)] * 2
    ]
    barrier = threading.Barrier(len(terminal))
    outcomes: list[bool] = []
    wired = webhooks.runtime()

    def send(callback: StatusCallback) -> None:
        barrier.wait()
        outcomes.append(logic.apply_status(callback, wired))

    threads = [threading.Thread(target=send, args=(event,)) for event in terminal]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 1  # exactly one terminal transition
    record = webhooks.record(call_sid)
    assert record is not None
    events = bus_tap.events_for(call_sid, wait_seconds=5)
    assert len(events) == 1
    assert events[0]["detail"]["status"] == record.status  # the first terminal status to land won
