"""Fixtures for integration tests of the webhooks Lambda: its environment on top of `local_stack`.

Import the fixtures into a test module (`from tests.support.webhooks_env import webhooks  # noqa`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from callscribe_local.apigw import LocalLambdaContext
from callscribe_local.aws_local import LocalAws
from functions.webhooks import app, dependencies
from shared import settings
from shared.dal.tables import CallRecord, calls_model
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

STREAM_URL = "wss://stream.example.com/media"
FORWARD_TO = "+14155550111"
ROUTED_NUMBER = "+14155550199"
CALL_ROUTES = {ROUTED_NUMBER: {"forwardTo": FORWARD_TO}, "+14155550177": {"agent": {}}}


@dataclass
class Webhooks:
    """The handler plus helpers to read what it wrote."""

    stack: LocalAws

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.handler(event, LocalLambdaContext())
        return result

    def record(self, call_sid: str) -> CallRecord | None:
        model = calls_model(self.stack.names.calls_table)
        try:
            return model.get(call_sid, consistent_read=True)
        except model.DoesNotExist:
            return None


def reset() -> None:
    settings.reset()
    dependencies.reset()


@pytest.fixture(name="webhooks")
def webhooks_fixture(local_stack: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhooks]:
    monkeypatch.setenv("STREAM_URL", STREAM_URL)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", TEST_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TEST_AUTH_TOKEN)
    monkeypatch.setenv("CALL_ROUTES", json.dumps(CALL_ROUTES))
    for name in ("WEBHOOK_BASE_URL", "TWILIO_FROM_NUMBER", "RECORDING_NOTICE", "TWILIO_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reset()
    yield Webhooks(local_stack)
    reset()
