"""Local EventBridge → Lambda delivery: what a CDK rule and Lambda's async invoke do in AWS.

One dispatcher per rule (the local stack runs two: `Transcript Completed` and `Transcript
Reconciled` → summaries, `Recording Completed` → recordings). moto cannot target Lambda, so the rule
targets an SQS queue that this polls; each event gets the `account` field moto leaves out and goes
to the handler in-process with a Lambda-shaped context, up to `concurrency` at once.
Must keep: a failure hides the message for the next backoff delay and attempts are counted with
SQS's `ApproximateReceiveCount`, so a crash of this process loses nothing; after the last attempt
the event is copied to the local DLQ with its error, then deleted; a message still being handled
is not received again. What it mirrors, and its local-sized delays: docs/local.md, "The parts".
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from callscribe_local.aws_local import LOCAL_ACCOUNT, LOCAL_REGION
from shared.events import SOURCE, TranscriptCompleted
from shared.observability import logger

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times one event is delivered, and how long to wait between attempts."""

    max_attempts: int = 3
    base_delay: float = 1.0  # seconds before the 2nd attempt; doubles each time
    max_delay: float = 30.0

    @classmethod
    def lambda_async(cls) -> RetryPolicy:
        """Lambda async invoke's default (MaximumRetryAttempts=2), with local-sized delays."""
        return cls(max_attempts=3, base_delay=1.0, max_delay=30.0)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2, 3, ...)."""
        return min(self.max_delay, self.base_delay * float(2 ** max(0, attempt - 2)))


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes of Lambda's context object that Powertools reads (logger, idempotency)."""

    function_name: str = "callscribe-summaries-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 60.0
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


@dataclass(frozen=True)
class Delivery:
    """What happened to one delivery attempt (for progress output and tests)."""

    call_sid: str | None
    event_id: str
    attempt: int
    ok: bool
    error: str | None = None
    dead_lettered: bool = False


class LocalDispatcher:
    """Delivers the events one rule matches from the local bus to a handler, as the CDK rule would."""

    def __init__(
        self,
        bus_name: str,
        handler: Handler,
        *,
        policy: RetryPolicy | None = None,
        name: str = "callscribe-summaries",
        detail_types: tuple[str, ...] = (TranscriptCompleted.detail_type,),
        on_delivery: Callable[[Delivery], None] | None = None,
        poll_wait_seconds: int = 1,
        timeout_seconds: float = 60.0,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError("a dispatcher needs room for at least one delivery at a time")
        self.bus_name = bus_name
        self.handler = handler
        self.policy = policy or RetryPolicy.lambda_async()
        self.name = name
        self.detail_types = detail_types
        self.on_delivery = on_delivery
        self.poll_wait_seconds = poll_wait_seconds
        self.timeout_seconds = timeout_seconds  # the handler's Lambda timeout, as its context reports
        self.concurrency = concurrency  # deliveries at once (Lambda's concurrency, locally bounded)
        self.deliveries: list[Delivery] = []
        self._sqs: Any = None
        self.queue_url = ""
        self.dlq_url = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._slots = threading.Condition()  # guards _active: deliveries running now
        self._active = 0

    # -- setup -------------------------------------------------------------------------------------

    def install(self) -> None:
        """Create the target queue, the DLQ and the rule (idempotent: same names, same result)."""
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        self._sqs = sqs
        self.queue_url = sqs.create_queue(QueueName=f"{self.name}-target")["QueueUrl"]
        self.dlq_url = sqs.create_queue(QueueName=f"{self.name}-dlq")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {"source": [SOURCE], "detail-type": list(self.detail_types)}
        events.put_rule(Name=self.name, EventBusName=self.bus_name, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule=self.name, EventBusName=self.bus_name, Targets=[{"Id": "target", "Arn": queue_arn}]
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> LocalDispatcher:
        if self._sqs is None:
            self.install()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"local-dispatcher-{self.name}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the delivery thread to end after its current poll, without waiting for it: a stack
        stopping several dispatchers asks them all first, so their long polls end together."""
        self._stop.set()
        with self._slots:
            self._slots.notify_all()

    def stop(self) -> None:
        """Stop polling, then give the deliveries still running up to 30 s to finish (their threads
        are daemons: one stuck in its handler does not keep the process alive)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_wait_seconds + 30)
            self._thread = None
        with self._slots:
            self._slots.wait_for(lambda: self._active == 0, timeout=30)

    def __enter__(self) -> LocalDispatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._slots:  # a free slot first: a message received waits for no one
                self._slots.wait_for(lambda: self._active < self.concurrency or self._stop.is_set())
                free = self.concurrency - self._active
            if self._stop.is_set():
                return
            try:
                messages = self._receive(min(10, free), self.poll_wait_seconds)
            except Exception:  # noqa: BLE001 - a moto hiccup must not end delivery; the message stays queued
                logger.exception("local dispatcher poll failed")
                self._stop.wait(0.5)
                continue
            for message in messages:
                with self._slots:
                    self._active += 1
                threading.Thread(
                    target=self._deliver_in_slot, args=(message,), name=f"delivery-{self.name}", daemon=True
                ).start()

    def _deliver_in_slot(self, message: dict[str, Any]) -> None:
        try:
            self._deliver(message)
        except Exception:  # noqa: BLE001 - moto failed around the handler: the message comes back when its visibility ends
            logger.exception("local delivery failed outside the handler", extra={"target": self.name})
        finally:
            with self._slots:
                self._active -= 1
                self._slots.notify_all()

    # -- delivery ----------------------------------------------------------------------------------

    def poll_once(self, wait_seconds: int = 0) -> list[Delivery]:
        """Receive what is due and deliver it once each, in this thread. Public so tests can step
        deterministically."""
        return [self._deliver(message) for message in self._receive(10, wait_seconds)]

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            # hidden while its handler may run (Lambda's event source sets the queue's visibility
            # timeout above the function's timeout): a delivery still running is not received again
            VisibilityTimeout=math.ceil(self.timeout_seconds) + 30,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _deliver(self, message: dict[str, Any]) -> Delivery:
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        receipt = message["ReceiptHandle"]
        try:
            event = json.loads(message["Body"])
        except json.JSONDecodeError as exc:
            # Not an event at all: retrying cannot help. Straight to the DLQ, as EventBridge would.
            return self._dead_letter(message, None, "?", attempt, f"unparseable event: {exc}")
        event.setdefault("account", LOCAL_ACCOUNT)
        event.setdefault("region", LOCAL_REGION)
        event_id = str(event.get("id", "?"))
        call_sid = _call_sid(event)
        try:
            self.handler(
                event,
                LocalLambdaContext(function_name=f"{self.name}-local", timeout_seconds=self.timeout_seconds),
            )
        except Exception as exc:  # noqa: BLE001 - any exception is a failed invocation, as in Lambda
            error = f"{type(exc).__name__}: {exc}"
            if attempt >= self.policy.max_attempts:
                return self._dead_letter(message, call_sid, event_id, attempt, error)
            delay = self.policy.delay_before(attempt + 1)
            logger.warning(
                "delivery failed; will retry",
                extra={
                    "target": self.name,
                    "call_sid": call_sid,
                    "attempt": attempt,
                    "retry_in_seconds": delay,
                    "error": error,
                },
            )
            # SQS counts whole seconds: round up so a retry never comes early
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=math.ceil(delay)
            )
            return self._record(Delivery(call_sid, event_id, attempt, ok=False, error=error))
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        logger.info("delivered", extra={"target": self.name, "call_sid": call_sid, "attempt": attempt})
        return self._record(Delivery(call_sid, event_id, attempt, ok=True))

    def _dead_letter(
        self, message: dict[str, Any], call_sid: str | None, event_id: str, attempt: int, error: str
    ) -> Delivery:
        self._sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=message["Body"],
            MessageAttributes={
                "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:1000]},
                "ATTEMPTS": {"DataType": "Number", "StringValue": str(attempt)},
                "RULE_ARN": {
                    "DataType": "String",
                    "StringValue": f"arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT}:rule/"
                    f"{self.bus_name}/{self.name}",
                },
            },
        )
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        logger.error(
            "delivery gave up; event sent to the DLQ",
            extra={"target": self.name, "call_sid": call_sid, "attempts": attempt, "error": error},
        )
        return self._record(Delivery(call_sid, event_id, attempt, ok=False, error=error, dead_lettered=True))

    def _record(self, delivery: Delivery) -> Delivery:
        self.deliveries.append(delivery)
        if self.on_delivery is not None:
            self.on_delivery(delivery)
        return delivery

    def dead_letters(self) -> list[dict[str, Any]]:
        """Events in the DLQ (read without removing them for good: they become visible again)."""
        response = self._sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
        )
        return [
            {"event": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})}
            for m in response.get("Messages", [])
        ]


def _call_sid(event: dict[str, Any]) -> str | None:
    detail = event.get("detail")
    if isinstance(detail, dict):
        sid = detail.get("callSid")
        return sid if isinstance(sid, str) else None
    return None
