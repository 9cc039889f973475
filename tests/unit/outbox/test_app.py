"""The outbox handler on Lambda-shaped stream events: order kept, failures retried, bad records parked.

The records are the calls table's real writes (the tiers' fakes' stream), serialised as Lambda
delivers them; the bus and the dead-letter queue are fakes of their ports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from callscribe_local.dispatcher import LocalLambdaContext as LambdaContext
from functions.outbox.app import create_handler
from functions.outbox.bus import EventBridgeSink
from functions.outbox.service import Outbox
from functions.webhooks.cdr import StatusChange, advance
from shared.dal.records import RecordingUpdate
from shared.status import CallStatus, TranscriptStatus
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_publisher import FakePublisher
from tests.support.stream_records import stream_event

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "dynamodb" / "stream_event.json"
SID = "CA" + "8" * 32
T0 = "2026-11-22T09:30:00.000Z"


class FakeDeadLetters:
    def __init__(self, fail: bool = False) -> None:
        self.parked: list[tuple[Mapping[str, Any], list[str]]] = []
        self.fail = fail

    def park(self, record: Mapping[str, Any], reasons: Sequence[str]) -> None:
        if self.fail:
            raise ConnectionError("queue unavailable")
        self.parked.append((record, list(reasons)))


class Metrics:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def add_metric(self, *, name: str, unit: object, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value


def a_call(table: FakeCallTable) -> None:
    """Four writes: ringing, answered, the transcript's end, the terminal status."""
    webhooks, stream = FakeWebhookCalls(table), FakeStreamCalls(table)
    advance(webhooks, StatusChange(call_sid=SID, status=CallStatus.RINGING, at=T0))
    advance(webhooks, StatusChange(call_sid=SID, status=CallStatus.IN_PROGRESS, at=T0))
    stream.transcript_finished(SID, TranscriptStatus.COMPLETED, 5, None)
    advance(webhooks, StatusChange(call_sid=SID, status=CallStatus.COMPLETED, at=T0, duration_seconds=9))


def handler_for(publisher: FakePublisher, dead: FakeDeadLetters, metrics: Metrics | None = None) -> Any:
    outbox = Outbox([EventBridgeSink(publisher)], dead, metric_sink=metrics or Metrics())
    return create_handler(lambda: outbox)


def kinds(publisher: FakePublisher) -> list[str]:
    return [event.detail_type for event in publisher.events]


def test_a_batch_is_announced_in_order() -> None:
    table = FakeCallTable()
    a_call(table)
    publisher, metrics = FakePublisher(), Metrics()
    response = handler_for(publisher, FakeDeadLetters(), metrics)(stream_event(table.stream), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert kinds(publisher) == ["Transcript Completed", "Call Completed"]
    assert metrics.values["OutboxRecords"] == 4
    assert metrics.values["OutboxChanges"] == 4  # three statuses and the transcript's end
    assert metrics.values["OutboxEventsPublished"] == 2


def test_a_failed_record_and_every_later_one_are_retried_and_then_announced_once() -> None:
    table = FakeCallTable()
    a_call(table)
    event = stream_event(table.stream)
    publisher, dead = FakePublisher(), FakeDeadLetters()
    handler = handler_for(publisher, dead)

    publisher.fail_times = 1  # the bus refuses the transcript's end (the third record)
    response = handler(event, LambdaContext())
    sequence = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": n} for n in sequence[2:]]}
    assert kinds(publisher) == []  # the terminal status was not announced ahead of the transcript

    # the mapping retries from the first failure (the records before it are checkpointed)
    retried = {"Records": event["Records"][2:]}
    assert handler(retried, LambdaContext()) == {"batchItemFailures": []}
    assert kinds(publisher) == ["Transcript Completed", "Call Completed"]
    assert dead.parked == []


def test_a_batch_failing_whole_raises_so_the_mapping_bisects_it() -> None:
    table = FakeCallTable()
    FakeStreamCalls(table).transcript_finished(SID, TranscriptStatus.COMPLETED, 5, None)
    handler = handler_for(FakePublisher(fail_times=1), FakeDeadLetters())
    with pytest.raises(Exception, match="All records failed"):
        handler(stream_event(table.stream), LambdaContext())


def test_records_that_are_no_call_record_are_parked_not_retried() -> None:
    """The AWS Lambda Developer Guide's example event: another table's items."""
    event = json.loads(FIXTURE.read_text())
    publisher, dead, metrics = FakePublisher(), FakeDeadLetters(), Metrics()
    response = handler_for(publisher, dead, metrics)(event, LambdaContext())
    assert response == {"batchItemFailures": []}
    assert [record["dynamodb"]["SequenceNumber"] for record, _ in dead.parked] == ["111", "222"]
    assert all("not a call record" in reasons[0] for _, reasons in dead.parked)
    assert metrics.values["OutboxRecordsParked"] == 2
    assert publisher.events == []


def test_a_change_no_event_can_describe_is_parked_and_the_rest_of_the_write_is_announced() -> None:
    table = FakeCallTable()
    advance(
        FakeWebhookCalls(table),
        StatusChange(call_sid=SID, status=CallStatus.COMPLETED, at=T0, duration_seconds=3),
    )
    FakeWebhookCalls(table).update_recording(
        RecordingUpdate(call_sid=SID, sid="RE-not-a-sid", status="completed", duration_seconds=3, channels=1)
    )
    publisher, dead = FakePublisher(), FakeDeadLetters()
    response = handler_for(publisher, dead)(stream_event(table.stream), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert kinds(publisher) == ["Call Completed"]
    [(record, reasons)] = dead.parked
    assert record["dynamodb"]["NewImage"]["recording"]["M"]["sid"] == {"S": "RE-not-a-sid"}
    assert reasons[0].startswith("eventbridge: RecordingReady: ")


def test_a_record_that_cannot_be_parked_is_retried() -> None:
    event = json.loads(FIXTURE.read_text())
    [call_record] = stream_event([(None, {"call_sid": SID, "status": "ringing"})])["Records"]
    event["Records"] = [event["Records"][0], call_record]
    handler = handler_for(FakePublisher(), FakeDeadLetters(fail=True))
    with pytest.raises(Exception, match="All records failed"):
        handler(event, LambdaContext())
