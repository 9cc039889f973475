"""The per-process wiring: settings, the calls and segments adapters, the bus, Twilio's REST API.

`build_services(settings)` is the factory; `services()` is the production wiring, built on first use
(never at import: a cold start stays cheap and tests can start moto first) and shared by every
invocation of the warm container. Local runs, benchmarks and tests that want other adapters build
their own `Services` and bind a handler to it with `app.create_app`; nothing global is swapped.
"""

from __future__ import annotations

from functools import cache

from functions.webhooks.logic import Services
from functions.webhooks.settings import WebhookSettings, webhook_settings
from functions.webhooks.twilio_calls import CallsApi, TwilioRestCalls
from shared import aws
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.segments import DynamoSegments
from shared.events import EventBridgePublisher


@cache
def _twilio(account_sid: str, auth_token: str, base_url: str) -> TwilioRestCalls:
    return TwilioRestCalls(account_sid=account_sid, auth_token=auth_token, base_url=base_url)


def build_services(settings: WebhookSettings) -> Services:
    """The real adapters for `settings`: DynamoDB tables, the EventBridge bus, Twilio REST (lazily)."""

    def calls_api() -> CallsApi:
        return _twilio(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_api_base_url,
        )

    return Services(
        settings=settings,
        store=DynamoWebhookCalls(settings.calls_table),
        publisher=EventBridgePublisher(aws.events(), settings.event_bus_name),
        calls_api=calls_api,
        segments=DynamoSegments(settings.transcripts_table),
    )


@cache
def services() -> Services:
    """The process's wiring, from its environment's settings."""
    return build_services(webhook_settings())


def reset() -> None:
    """Forget the wiring (tests that change the environment or restart moto)."""
    services.cache_clear()
    _twilio.cache_clear()
