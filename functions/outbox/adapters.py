"""The outbox's dead-letter queue: a parked stream record, as an SQS message.

The same queue is the event source mapping's on-failure destination (infra), so everything the
outbox could not announce is in one place under one alarm. A parked message holds the whole stream
record (both images) and the reasons; a record too large for one message keeps its keys and
sequence number only, which is enough to find it in the stream (24 h) or the item in the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared import clock

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_MESSAGE_BYTES = 250_000  # under SQS's 256 KiB, with room for the attributes


def parked_message(record: Mapping[str, Any], reasons: Sequence[str], parked_at: str) -> str:
    """The message body of a parked record (its images left out when the whole would not fit)."""
    body: dict[str, Any] = {"parkedAt": parked_at, "reasons": list(reasons), "record": dict(record)}
    text = json.dumps(body, default=str)
    if len(text.encode()) <= MAX_MESSAGE_BYTES:
        return text
    stream = dict(record.get("dynamodb") or {})
    for image in ("NewImage", "OldImage"):
        stream.pop(image, None)
    body["record"] = {**record, "dynamodb": stream}
    body["imagesOmitted"] = True
    return json.dumps(body, default=str)


class SqsDeadLetters:
    """`DeadLetters` on one SQS queue (by URL), with an injected (cached, per-process) client."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def park(self, record: Mapping[str, Any], reasons: Sequence[str]) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url, MessageBody=parked_message(record, reasons, clock.now_iso())
        )
