"""The outbox handler on Lambda-shaped stream events: order kept, failures retried, bad records parked.

The records are the calls table's real writes (the tiers' fakes' stream), serialised as Lambda
delivers them; the bus and the dead-letter queue are fakes of their ports.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from callscribe_local.dispatcher import LocalLambdaContext as LambdaContext
from functions.outbox.app import create_handler
from functions.outbox.bus import EventBridgeSink
from functions.outbox.changes import CallStatusChanged, Change
from functions.outbox.service import Outbox
from functions.outbox.sinks import Delivery
from functions.webhooks.cdr import StatusChange, advance
from shared.dal.records import RecordingUpdate, StreamClaim
from shared.status import CallStatus, TranscriptStatus
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_publisher import FakePublisher
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`
from tests.support.stream_records import stream_event

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "dynamodb" / "stream_event.json"
SID = "CA" + "8" * 32
T0 = "2026-11-22T09:30:00.000Z"
OWNER = "0f" * 16


def claimed(table: FakeCallTable) -> FakeStreamCalls:
    stream = FakeStreamCalls(table)
    assert stream.claim_stream(StreamClaim(call_sid=SID, owner=OWNER, stream_sid="MZ1", started_at=T0))
    return stream


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
    """Five writes: ringing, answered, the stream's claim, the transcript's end, the terminal status."""
    webhooks = FakeWebhookCalls(table)
    advance(webhooks, StatusChange(call_sid=SID, status=CallStatus.RINGING, at=T0))
    advance(webhooks, StatusChange(call_sid=SID, status=CallStatus.IN_PROGRESS, at=T0))
    claimed(table).transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 5, None)
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
    assert metrics.values["OutboxRecords"] == 5
    assert metrics.values["OutboxChanges"] == 4  # three statuses and the transcript's end
    assert metrics.values["OutboxEventsPublished"] == 2


def test_a_failed_record_and_every_later_one_are_retried_and_then_announced_once() -> None:
    table = FakeCallTable()
    a_call(table)
    event = stream_event(table.stream)
    publisher, dead = FakePublisher(), FakeDeadLetters()
    handler = handler_for(publisher, dead)

    publisher.fail_times = 1  # the bus refuses the transcript's end (the fourth record)
    response = handler(event, LambdaContext())
    sequence = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": n} for n in sequence[3:]]}
    assert kinds(publisher) == []  # the terminal status was not announced ahead of the transcript

    # the mapping retries from the first failure (the records before it are checkpointed)
    retried = {"Records": event["Records"][3:]}
    assert handler(retried, LambdaContext()) == {"batchItemFailures": []}
    assert kinds(publisher) == ["Transcript Completed", "Call Completed"]
    assert dead.parked == []


def test_a_batch_failing_whole_raises_so_the_mapping_bisects_it() -> None:
    table = FakeCallTable()
    claimed(table).transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 5, None)
    handler = handler_for(FakePublisher(fail_times=1), FakeDeadLetters())
    with pytest.raises(Exception, match="All records failed"):
        handler(stream_event(table.stream[-1:]), LambdaContext())  # the transcript's end alone


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


def test_the_failed_records_sequence_number_reaches_the_log_whole(log_output: io.StringIO) -> None:
    """Real sequence numbers are 21+ digits: as text the log redaction would take some for cards."""
    table = FakeCallTable()
    a_call(table)
    event = stream_event(table.stream[3:4])
    event["Records"][0]["dynamodb"]["SequenceNumber"] = "4111111111111111000001"  # holds a Luhn card
    with pytest.raises(Exception, match="All records failed"):
        handler_for(FakePublisher(fail_times=1), FakeDeadLetters())(event, LambdaContext())
    [failed] = [json.loads(line) for line in log_output.getvalue().splitlines() if "failed" in line]
    assert failed["sequence_number"] == 4111111111111111000001


class StatusFeed:
    """A second sink, as a live feed of status changes would be: every change, mapped to its message."""

    name = "feed"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, changes: Sequence[Change]) -> Delivery:
        sent = [
            {"type": "call", "callSid": c.call.call_sid, "status": c.status}
            for c in changes
            if isinstance(c, CallStatusChanged)
        ]
        self.messages += sent
        return Delivery(sent=tuple("call" for _ in sent))


def test_a_second_sink_gets_every_change_beside_the_bus_with_nothing_else_changed() -> None:
    table = FakeCallTable()
    a_call(table)
    publisher, feed = FakePublisher(), StatusFeed()
    outbox = Outbox([EventBridgeSink(publisher), feed], FakeDeadLetters(), metric_sink=Metrics())
    assert create_handler(lambda: outbox)(stream_event(table.stream), LambdaContext()) == {
        "batchItemFailures": []
    }
    assert [m["status"] for m in feed.messages] == ["ringing", "in-progress", "completed"]
    assert kinds(publisher) == ["Transcript Completed", "Call Completed"]
