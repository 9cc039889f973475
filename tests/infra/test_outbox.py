"""The outbox: the calls table's stream → the outbox Lambda, mapped so nothing is lost or reordered."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.outbox import metric_names as outbox_metrics
from tests.infra.conftest import Synth
from tests.infra.helpers import function, grants_by_resource

pytestmark = pytest.mark.infra

OUTBOX = "functions.outbox.app.handler"


def _table(synth: Synth, construct: str) -> str:
    (logical_id,) = [k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith(construct)]
    return logical_id


def _mapping(synth: Synth) -> dict[str, Any]:
    """The outbox's mapping (the call feed reads the same stream: test_people.py)."""
    function_id, _ = function(synth, OUTBOX)
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return dict(mapping)


def _queue(synth: Synth) -> str:
    (queue,) = [k for k in synth.resources("AWS::SQS::Queue") if k.startswith("Outbox")]
    return queue


def test_only_the_calls_table_streams_and_with_both_images(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    calls = tables[_table(synth, "DataCalls")]["Properties"]
    assert calls["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [k for k, v in tables.items() if "StreamSpecification" in v["Properties"]] == [
        _table(synth, "DataCalls")
    ]


def test_the_stream_is_mapped_in_order_with_bounded_retries_and_a_dead_letter_queue(synth: Synth) -> None:
    mapping = _mapping(synth)
    function_id, _ = function(synth, OUTBOX)
    assert mapping["FunctionName"] == {"Ref": function_id}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [_table(synth, "DataCalls"), "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # nothing the stream holds is skipped
    assert mapping["ParallelizationFactor"] == 1  # one batch per shard at a time: a call in order
    assert mapping["MaximumBatchingWindowInSeconds"] == 0  # invoked as soon as records are there
    assert mapping["BatchSize"] == 100
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (mapping["MaximumRetryAttempts"], mapping["MaximumRecordAgeInSeconds"]) == (1000, 6 * 3600)
    queue = _queue(synth)
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    assert synth.raw["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True


def test_the_outbox_function_is_configured_for_its_bus_and_queue(synth: Synth) -> None:
    _, props = function(synth, OUTBOX)
    env = props["Environment"]["Variables"]
    bus = next(iter(synth.resources("AWS::Events::EventBus")))
    assert env["EVENT_BUS_NAME"] == {"Ref": bus}
    assert env["OUTBOX_DEAD_LETTER_QUEUE_URL"] == {"Ref": _queue(synth)}
    assert env["POWERTOOLS_SERVICE_NAME"] == outbox_metrics.SERVICE_NAME
    assert "CALLS_TABLE" not in env  # it reads the stream, never the table
    assert props["Timeout"] == 60


def test_the_outbox_may_read_the_stream_put_events_and_park_records_only(synth: Synth) -> None:
    granted = grants_by_resource(synth, OUTBOX)
    calls = _table(synth, "DataCalls")
    bus = next(iter(synth.resources("AWS::Events::EventBus")))
    stream = json.dumps({"Fn::GetAtt": [calls, "StreamArn"]}, sort_keys=True)
    assert granted == {
        json.dumps("*"): {"dynamodb:ListStreams"},  # no resource-level permission exists for it
        stream: {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
        json.dumps({"Fn::GetAtt": [bus, "Arn"]}, sort_keys=True): {"events:PutEvents"},
        json.dumps({"Fn::GetAtt": [_queue(synth), "Arn"]}, sort_keys=True): {
            "sqs:SendMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        },
    }


def test_dead_letters_and_a_stream_falling_behind_alarm(synth: Synth) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    function_id, _ = function(synth, OUTBOX)
    (behind,) = [
        a
        for a in alarms
        if a["MetricName"] == "IteratorAge"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    ]
    assert (behind["Statistic"], behind["Period"], behind["Threshold"], behind["EvaluationPeriods"]) == (
        "Maximum",
        60,
        60_000,
        3,
    )
    queue = _queue(synth)
    (dead,) = [
        a
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert dead["Threshold"] == 1
