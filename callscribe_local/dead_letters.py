"""Which of a call's deliveries gave up: the local stack's dead-letter queues, read from any process.

The local dispatchers (dispatcher.py) copy an event whose handler failed every attempt to the queue
`<dispatcher>-dlq` on moto, with the error as the `ERROR_MESSAGE` attribute, as the Lambdas'
`on_failure` destinations do in AWS. A call's record never says that a delivery gave up (the failed
handler changed nothing on it), so this is how the CLI learns that a summary or a reconciliation is
not coming, instead of waiting for it until its timeout.

Reading does not consume: each pass hides the messages it has seen for a moment (so the next
receive returns the others) and they come back for the next reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from callscribe_local.settlement import RECORDINGS, SUMMARIES

# the local stack's dispatchers (stack.py names them), by the tier each delivers to
DISPATCHERS = {SUMMARIES: "callscribe-summaries", RECORDINGS: "callscribe-recordings"}
HIDE_SECONDS = 2  # while one pass reads the rest of the queue
MAX_MESSAGES = 500  # a local stack's DLQ holds a handful; stop reading past this


@dataclass
class DeadLetterWatch:
    """Deliveries of one call that ended in a local DLQ (tier -> the last error), accumulated."""

    call_sid: str
    found: dict[str, str] = field(default_factory=dict)
    _sqs: Any = None
    _queues: dict[str, str] = field(default_factory=dict)

    def __call__(self) -> dict[str, str]:
        for tier in DISPATCHERS:
            if tier in self.found:
                continue
            error = self._find(tier)
            if error is not None:
                self.found[tier] = error
        return dict(self.found)

    def _find(self, tier: str) -> str | None:
        if self._sqs is None:
            self._sqs = boto3.client("sqs")
        url = self._queues.get(tier)
        if url is None:
            try:
                url = self._sqs.get_queue_url(QueueName=f"{DISPATCHERS[tier]}-dlq")["QueueUrl"]
            except self._sqs.exceptions.QueueDoesNotExist:
                return None
            self._queues[tier] = url
        seen = 0
        while seen < MAX_MESSAGES:
            messages = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=HIDE_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return None
            seen += len(messages)
            for message in messages:
                if _call_sid(message) == self.call_sid:
                    attribute = message.get("MessageAttributes", {}).get("ERROR_MESSAGE", {})
                    return str(attribute.get("StringValue") or "no error recorded")
        return None


def _call_sid(message: dict[str, Any]) -> str | None:
    try:
        detail = json.loads(message["Body"]).get("detail")
    except (ValueError, AttributeError):
        return None
    sid = detail.get("callSid") if isinstance(detail, dict) else None
    return sid if isinstance(sid, str) else None
