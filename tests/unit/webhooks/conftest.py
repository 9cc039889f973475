"""Unit fixtures for the webhooks logic: settings built in memory, fakes for every port."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from functions.webhooks.logic import Services
from functions.webhooks.settings import WebhookSettings
from functions.webhooks.twilio_calls import CreatedCall, OutboundCall
from functions.webhooks.twiml import CallbackUrls
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_segments import FakeSegments

STREAM_URL = "wss://stream.example.com/media"
BASE = "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod"
FORWARD_NUMBER = "+14155550111"
AGENT_NUMBER = "+14155550177"


@dataclass
class FakeCallsApi:
    created: list[OutboundCall] = field(default_factory=list)
    sid: str = "CA" + "f" * 32

    def create_call(self, call: OutboundCall) -> CreatedCall:
        self.created.append(call)
        return CreatedCall(sid=self.sid, status="queued")


def make_settings(**overrides: str) -> WebhookSettings:
    env = {
        "CALLS_TABLE": "calls",
        "TRANSCRIPTS_TABLE": "segments",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "STREAM_URL": STREAM_URL,
        "CALL_ROUTES": json.dumps(
            {"+14155550199": {"forwardTo": FORWARD_NUMBER}, AGENT_NUMBER: {"agent": {"greeting": "Hi there"}}}
        ),
        **overrides,
    }
    return WebhookSettings.from_env(env)


@pytest.fixture
def calls_api() -> FakeCallsApi:
    return FakeCallsApi()


@pytest.fixture
def make_services(calls_api: FakeCallsApi) -> Callable[..., Services]:
    def build(**overrides: str) -> Services:
        return Services(
            settings=make_settings(**overrides),
            store=FakeWebhookCalls(),
            calls_api=lambda: calls_api,
            segments=FakeSegments(),
        )

    return build


@pytest.fixture
def callbacks() -> CallbackUrls:
    return CallbackUrls.under(BASE)
