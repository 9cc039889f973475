"""DynamoDB stream records of the calls table, shaped as Lambda delivers them to the outbox.

Built from the fake calls table's (old, new) items (`FakeCallTable.stream`), serialised to DynamoDB
JSON with boto3's own serialiser, in the layout of tests/fixtures/dynamodb/stream_event.json: so a
unit test hands the outbox handler what the event source mapping would, without a stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/calls/stream/2026-11-22T09:00:00.000"
_serializer = TypeSerializer()


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: _dynamo(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_dynamo(item) for item in value]
    return value


def image(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB JSON (absent attributes left out, as DynamoDB stores no null here)."""
    return {name: _serializer.serialize(_dynamo(value)) for name, value in item.items() if value is not None}


def stream_record(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, sequence: int
) -> dict[str, Any]:
    """One record of the calls table's stream (NEW_AND_OLD_IMAGES)."""
    key = (new or old or {})["call_sid"]
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": 1795253400.0,
        "Keys": {"call_sid": {"S": key}},
        "SequenceNumber": str(100000000000000000000 + sequence),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        stream["NewImage"] = image(new)
    if old is not None:
        stream["OldImage"] = image(old)
    return {
        "eventID": f"event-{sequence}",
        "eventName": "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
        "eventSourceARN": STREAM_ARN,
    }


def stream_event(pairs: list[tuple[dict[str, Any] | None, dict[str, Any]]], first: int = 1) -> dict[str, Any]:
    """`{"Records": [...]}` of these (old, new) pairs, numbered from `first`."""
    return {"Records": [stream_record(old, new, first + i) for i, (old, new) in enumerate(pairs)]}
