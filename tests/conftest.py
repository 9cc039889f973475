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
    from tests.support.running_outbox import running_outbox

    with running_outbox(
        local_stack.names.calls_table, local_stack.names.event_bus_name, "test-outbox-dlq"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def bus_tap(local_stack: LocalAws, outbox: LocalOutbox) -> BusTap:
    """Reads the events on the bus, the outbox's included (each test filters by its own call SID)."""
    from tests.support.running_outbox import AnnouncedBusTap

    return AnnouncedBusTap(local_stack.names.event_bus_name, outbox)


@pytest.fixture
def call_sid() -> str:
    """A fresh, valid-looking call SID, so tests sharing the session's tables never collide."""
    return "CA" + uuid.uuid4().hex
