"""Local AWS: moto in server mode, the product's tables, bus and recordings bucket, and a tap on the bus.

moto cannot deliver EventBridge events to Lambda (PutEvents fails with a Lambda target), so the tap is
a rule that targets an SQS queue, which callers poll. Events that moto delivers lack the `account`
field real EventBridge sets; `BusTap.receive` adds it so Powertools' EventBridge model accepts them.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from shared import aws
from shared.bootstrap import BootstrapSettings, bootstrap
from shared.events import SOURCE

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


@dataclass(frozen=True)
class LocalNames:
    calls_table: str = "callscribe-calls"
    transcripts_table: str = "callscribe-transcripts"
    idempotency_table: str = "callscribe-idempotency"
    event_bus_name: str = "callscribe-events"
    recordings_bucket: str = "callscribe-recordings"

    def env(self) -> dict[str, str]:
        return {
            "CALLS_TABLE": self.calls_table,
            "TRANSCRIPTS_TABLE": self.transcripts_table,
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "EVENT_BUS_NAME": self.event_bus_name,
            "RECORDINGS_BUCKET": self.recordings_bucket,
        }


def fake_credentials_env() -> dict[str, str]:
    """Credentials moto accepts; set so nothing local ever finds a real profile."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
    }


@dataclass
class LocalAws:
    endpoint: str
    names: LocalNames
    server: ThreadedMotoServer

    def env(self) -> dict[str, str]:
        return {**fake_credentials_env(), "AWS_ENDPOINT_URL": self.endpoint, **self.names.env()}


@contextmanager
def local_aws(
    names: LocalNames | None = None,
    environ: MutableMapping[str, str] | None = None,
    port: int = 0,
) -> Iterator[LocalAws]:
    """Start moto, point this process's environment at it, create tables and bus; stop on exit."""
    names = names or LocalNames()
    target = os.environ if environ is None else environ
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    stack = LocalAws(endpoint=f"http://{host}:{bound_port}", names=names, server=server)
    saved = {key: target.get(key) for key in stack.env()}
    target.update(stack.env())
    aws.reset_clients()
    try:
        bootstrap(BootstrapSettings.from_env(target))
        yield stack
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        aws.reset_clients()


@dataclass
class BusTap:
    """Every event on the bus with source `callscribe`, via a rule → SQS queue (moto's way)."""

    bus_name: str
    name: str = field(default_factory=lambda: f"tap-{uuid.uuid4().hex[:8]}")
    queue_url: str = ""
    _seen: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        self.queue_url = sqs.create_queue(QueueName=self.name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name=self.name, EventBusName=self.bus_name, EventPattern=json.dumps({"source": [SOURCE]})
        )
        events.put_targets(
            Rule=self.name, EventBusName=self.bus_name, Targets=[{"Id": "tap", "Arn": queue_arn}]
        )
        self._sqs = sqs

    def receive(self, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        """New events since the last call, each a full EventBridge event dict."""
        deadline = time.monotonic() + wait_seconds
        fresh: list[dict[str, Any]] = []
        while True:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            for message in messages:
                event = json.loads(message["Body"])
                event.setdefault("account", LOCAL_ACCOUNT)
                fresh.append(event)
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if messages:
                continue
            if fresh or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self._seen.extend(fresh)
        return fresh

    def events_for(self, call_sid: str, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        """All events seen so far for one call (polling up to `wait_seconds` for new ones)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            self.receive()
            mine = [e for e in self._seen if e.get("detail", {}).get("callSid") == call_sid]
            if mine or time.monotonic() >= deadline:
                return mine
            time.sleep(0.05)
