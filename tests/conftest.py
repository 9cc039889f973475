"""Fixtures every suite shares.

Fake AWS credentials are set at import, before any test can build a client, so nothing here ever
reaches a real account. Integration tests take `local_stack` (moto in server mode, tables and bus
created by shared.bootstrap); unit tests never touch the network. `bus_tap` reads the session's bus
with the outbox running (`outbox`), so events of the writes a test makes reach the bus as in AWS:
tests that check events read them there, filtered by their own call SID.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from callscribe_local.aws_local import BusTap, LocalAws, LocalNames, fake_credentials_env, local_aws
from callscribe_local.outbox import LocalOutbox

os.environ.update(fake_credentials_env())
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "callscribe-tests")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "callscribe")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TEST_ACCOUNT_SID = "AC" + "0" * 32


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalAws]:
    """moto server + the product's tables and bus, for the whole session."""
    names = LocalNames(
        calls_table="test-calls",
        transcripts_table="test-transcripts",
        idempotency_table="test-idempotency",
        event_bus_name="test-bus",
        recordings_bucket="test-recordings",
    )
    with local_aws(names) as stack:
        yield stack


@pytest.fixture(scope="session")
def outbox(local_stack: LocalAws) -> Iterator[LocalOutbox]:
    """The calls table's stream → the outbox handler → the session's bus, for the rest of the session
    once a test asks for it (as the local stack runs it)."""
    from functions.outbox.app import build_outbox, create_handler
    from functions.outbox.settings import OutboxSettings

    settings = OutboxSettings.from_env(
        {
            "EVENT_BUS_NAME": local_stack.names.event_bus_name,
            "OUTBOX_DEAD_LETTER_QUEUE_URL": LocalOutbox.create_dead_letter_queue("test-outbox-dlq"),
        }
    )
    runtime = build_outbox(settings)
    handler = create_handler(lambda: runtime)
    with LocalOutbox(
        local_stack.names.calls_table, handler, dead_letter_queue_url=settings.outbox_dead_letter_queue_url
    ) as running:
        yield running


class AnnouncedBusTap(BusTap):
    """A tap that reads the bus only once the outbox has announced every write made before the read,
    so a test sees all the events of what it did (or that there are none), not the first few."""

    def __init__(self, bus_name: str, outbox: LocalOutbox) -> None:
        super().__init__(bus_name=bus_name)
        self.outbox = outbox

    def receive(self, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        self.outbox.wait_idle()
        return super().receive(wait_seconds)


@pytest.fixture(scope="session")
def bus_tap(local_stack: LocalAws, outbox: LocalOutbox) -> BusTap:
    """Reads the events on the bus, the outbox's included (each test filters by its own call SID)."""
    return AnnouncedBusTap(local_stack.names.event_bus_name, outbox)


@pytest.fixture
def call_sid() -> str:
    """A fresh, valid-looking call SID, so tests sharing the session's tables never collide."""
    return "CA" + uuid.uuid4().hex
