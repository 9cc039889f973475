"""The outbox on moto's DynamoDB stream: what landed is announced, once, whatever the request did.

Real parts throughout: the webhooks' handler and DynamoDB adapter, moto's table, stream and bus, the
local event source mapping (`callscribe_local.outbox`) polling the stream with Lambda's record shape
and retries, and the outbox's own handler. Each test that needs the bus to fail, or its own dead
letters, runs on a table and bus of its own (the session's outbox keeps serving the others).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from callscribe_local.apigw import LocalLambdaContext
from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.dispatcher import Handler
from callscribe_local.outbox import LocalOutbox, StreamPolicy
from functions.outbox.app import build_outbox, create_handler
from functions.outbox.settings import OutboxSettings
from functions.webhooks import app as webhooks_app
from functions.webhooks.dependencies import build_services
from functions.webhooks.settings import WebhookSettings
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.records import StatusAdvance
from shared.dal.tables import calls_model
from tests.support.apigw_events import twilio_event
from tests.support.twilio_forms import recording_params, status_params, voice_params
from tests.support.webhooks_env import (
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dynamodb" / "stream_event.json"


class Private:
    """A calls table and a bus of one test's own, and the outbox between them (not started)."""

    def __init__(self, stack: LocalAws, policy: StreamPolicy | None = None) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.table = f"outbox-calls-{suffix}"
        self.bus = f"outbox-bus-{suffix}"
        calls_model(self.table).create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        self.dead_letter_url = LocalOutbox.create_dead_letter_queue(f"outbox-dlq-{suffix}")
        settings = OutboxSettings.from_env(
            {"EVENT_BUS_NAME": self.bus, "OUTBOX_DEAD_LETTER_QUEUE_URL": self.dead_letter_url}
        )
        runtime = build_outbox(settings)
        self.handler: Handler = create_handler(lambda: runtime)
        self.outbox = LocalOutbox(
            self.table, self.handler, dead_letter_queue_url=self.dead_letter_url, policy=policy
        )

    def open_bus(self) -> BusTap:
        boto3.client("events").create_event_bus(Name=self.bus)
        return BusTap(bus_name=self.bus)

    def webhooks(self, webhooks: Webhooks) -> Webhooks:
        webhooks.configure(CALLS_TABLE=self.table)
        return webhooks

    def parked(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            found += [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def private(local_stack: LocalAws) -> Iterator[Private]:
    made = Private(local_stack, StreamPolicy(retry_base_delay=0.05, max_retry_attempts=50))
    yield made
    made.outbox.stop()


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail-type"] for event in events]


def wait_for(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_status_that_landed_is_announced_although_the_request_died_after_its_write(
    webhooks: Webhooks, bus_tap: BusTap, call_sid: str
) -> None:
    """The Lambda stops right after the write (a timeout, a crash): nothing of the request path
    publishes, and Twilio does not retry a 5xx; the record's stream still announces it."""

    class DiesAfterItsWrite(DynamoWebhookCalls):
        def advance_status(self, advance: StatusAdvance) -> bool:
            super().advance_status(advance)
            raise TimeoutError("the Lambda ran out of time after its write")

    wired = build_services(WebhookSettings.from_env(webhooks.env))
    services = replace(wired, store=DiesAfterItsWrite(wired.settings.calls_table))
    handler = webhooks_app.create_handler(lambda: services)
    completed = twilio_event("/twilio/status", status_params(call_sid, "completed", 3, duration=7))

    assert handler(completed, LocalLambdaContext())["statusCode"] == 500

    record = webhooks.record(call_sid)
    assert record is not None
    assert record.status == "completed"
    events = bus_tap.events_for(call_sid, wait_seconds=10)
    assert [(e["detail-type"], e["detail"]) for e in events] == [
        ("Call Completed", {"callSid": call_sid, "status": "completed", "durationSeconds": 7})
    ]


def test_a_bus_outage_fails_no_callback_and_the_outbox_announces_once_the_bus_is_back(
    webhooks: Webhooks, private: Private, call_sid: str
) -> None:
    """Twilio does not retry a webhook that answered 5xx: the request path must not need the bus.
    While the bus is away the outbox retries the record; once it is back, one `Call Completed`."""
    hooks = private.webhooks(webhooks)
    hooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    completed = twilio_event("/twilio/status", status_params(call_sid, "completed", 3, duration=7))
    assert hooks.invoke(completed)["statusCode"] == 204  # the write landed: that is the whole request
    assert hooks.invoke(completed)["statusCode"] == 204  # a duplicate changes nothing

    outbox = private.outbox.start()
    assert wait_for(lambda: any(not d.ok for d in outbox.deliveries))  # the bus does not exist
    outbox.stop()
    assert not any(d.dead_lettered for d in outbox.deliveries)

    tap = private.open_bus()  # the outage is over
    outbox.start()
    assert outbox.wait_idle()
    events = tap.events_for(call_sid, wait_seconds=1)
    assert [(e["detail-type"], e["detail"]) for e in events] == [
        ("Call Completed", {"callSid": call_sid, "status": "completed", "durationSeconds": 7})
    ]
    assert private.parked() == []


def test_one_bad_record_in_a_batch_is_parked_and_every_other_change_is_announced(
    webhooks: Webhooks, private: Private
) -> None:
    """A record no event can describe (a hand-edited recording SID) goes to the dead-letter queue
    with its images and reason; the records before and after it in the same batch are announced."""
    hooks = private.webhooks(webhooks)
    tap = private.open_bus()
    first, bad, last = ("CA" + uuid.uuid4().hex for _ in range(3))
    for sid in (first, bad, last):  # in the stream: first's writes, the bad one's, then last's
        hooks.invoke(twilio_event("/twilio/status", status_params(sid, "completed", 3, duration=5)))
        if sid == bad:
            boto3.client("dynamodb").update_item(
                TableName=private.table,
                Key={"call_sid": {"S": bad}},
                UpdateExpression="SET recording = :r",
                ExpressionAttributeValues={
                    ":r": {"M": {"sid": {"S": "RE-typed-by-hand"}, "status": {"S": "completed"}}}
                },
            )
        else:
            hooks.invoke(twilio_event("/twilio/recording", recording_params(sid)))

    with private.outbox as outbox:
        assert outbox.wait_idle()
    assert [d.ok for d in outbox.deliveries] == [True]  # one batch, nothing retried

    for sid in (first, last):
        assert kinds(tap.events_for(sid, wait_seconds=1)) == ["Call Completed", "Recording Completed"]
    assert kinds(tap.events_for(bad)) == ["Call Completed"]
    [parked] = private.parked()
    assert parked["record"]["dynamodb"]["Keys"] == {"call_sid": {"S": bad}}
    assert parked["record"]["dynamodb"]["NewImage"]["recording"]["M"]["sid"] == {"S": "RE-typed-by-hand"}
    assert parked["reasons"][0].startswith("eventbridge: RecordingReady:")


def test_the_local_mapping_bisects_a_failing_batch_and_dead_letters_only_the_bad_record(
    local_stack: LocalAws, private: Private
) -> None:
    """What the event source mapping does with a record the function keeps failing on (a bug, not
    a refusal): bisection isolates it, its retries run out, its description goes to the queue."""
    sids = ["CA" + uuid.uuid4().hex for _ in range(4)]
    table = calls_model(private.table)
    for sid in sids:
        table(sid, status="ringing", status_rank=2).save()
    poison = sids[2]
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        keys = [record["dynamodb"]["Keys"]["call_sid"]["S"] for record in event["Records"]]
        if poison in keys:
            raise RuntimeError("a bug on this record")
        seen.extend(keys)
        return {"batchItemFailures": []}

    policy = StreamPolicy(retry_base_delay=0.01, max_retry_attempts=2)
    with LocalOutbox(
        private.table, handler, dead_letter_queue_url=private.dead_letter_url, policy=policy
    ) as outbox:
        assert outbox.wait_idle()
    assert seen == [sid for sid in sids if sid != poison]  # in order, the poison left out
    [failure] = private.parked()
    info = failure["DDBStreamBatchInfo"]
    assert (info["batchSize"], failure["requestContext"]["condition"]) == (1, "RetryAttemptsExhausted")
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == outbox.stream_arn
    assert failure["responseContext"]["functionError"] == "Unhandled"


def test_the_local_mapping_hands_over_records_shaped_as_lambda_delivers_them(private: Private) -> None:
    """Every key of the AWS Lambda Developer Guide's example record, and no image a write lacked."""
    example = json.loads(FIXTURE.read_text())["Records"]
    sid = "CA" + uuid.uuid4().hex
    table = calls_model(private.table)
    table(sid, status="ringing", status_rank=2).save()
    table(sid, status="in-progress", status_rank=3).save()
    received: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.extend(json.loads(json.dumps(event))["Records"])  # as JSON, as Lambda sends it
        return {"batchItemFailures": []}

    with LocalOutbox(private.table, handler, dead_letter_queue_url=private.dead_letter_url) as outbox:
        assert outbox.wait_idle()
    inserted, modified = received
    for ours, theirs in ((inserted, example[0]), (modified, example[1])):
        assert set(theirs) <= set(ours)
        assert set(theirs["dynamodb"]) <= set(ours["dynamodb"])
        assert ours["eventName"] == theirs["eventName"]
        assert isinstance(ours["dynamodb"]["SequenceNumber"], str)
        assert isinstance(ours["dynamodb"]["ApproximateCreationDateTime"], float)
        assert ours["eventSourceARN"] == outbox.stream_arn
    assert "OldImage" not in inserted["dynamodb"]
    assert modified["dynamodb"]["OldImage"]["status"] == {"S": "ringing"}
    assert modified["dynamodb"]["NewImage"]["status"] == {"S": "in-progress"}
