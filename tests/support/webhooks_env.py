"""Fixtures for integration tests of the webhooks Lambda: its handler code on top of `local_stack`.

Import the fixtures into a test module (`from tests.support.webhooks_env import webhooks  # noqa`).
`webhooks` is the Lambda's own entry point code (`app.create_handler`) in a `LambdaContainer` whose
environment is this process's (the moto stack's names) plus the variables below;
`webhooks.configure(NAME=value)` starts a new container with other ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import pytest

from callscribe_local.apigw import LocalLambdaContext
from callscribe_local.aws_local import LocalAws
from functions.webhooks import app
from functions.webhooks.dependencies import build_services
from functions.webhooks.logic import Services
from functions.webhooks.settings import WebhookSettings
from shared.dal.tables import CallRecord, calls_model
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.lambda_container import LambdaContainer

STREAM_URL = "wss://stream.example.com/media"
FORWARD_TO = "+14155550111"
ROUTED_NUMBER = "+14155550199"
CALL_ROUTES = {ROUTED_NUMBER: {"forwardTo": FORWARD_TO}, "+14155550177": {"agent": {}}}
UNSET = ("WEBHOOK_BASE_URL", "TWILIO_FROM_NUMBER", "RECORDING_NOTICE", "TWILIO_API_BASE_URL")


def _services(env: Mapping[str, str]) -> Services:
    return build_services(WebhookSettings.from_env(env))


class Webhooks(LambdaContainer[Services]):
    """The handler, the wiring it was built with (`runtime()`), and a helper to read what it wrote."""

    def __init__(self, stack: LocalAws, env: Mapping[str, str]) -> None:
        self.stack = stack
        super().__init__(_services, app.create_handler, env)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.handler(event, LocalLambdaContext())

    def record(self, call_sid: str) -> CallRecord | None:
        model = calls_model(self.stack.names.calls_table)
        try:
            return model.get(call_sid, consistent_read=True)
        except model.DoesNotExist:
            return None


@pytest.fixture(name="webhooks")
def webhooks_fixture(local_stack: LocalAws) -> Webhooks:
    env = {
        **{name: value for name, value in os.environ.items() if name not in UNSET},
        "STREAM_URL": STREAM_URL,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "CALL_ROUTES": json.dumps(CALL_ROUTES),
    }
    return Webhooks(local_stack, env)
