"""The per-process wiring: settings, the calls and segments adapters, Twilio's REST API.

`build_services(settings)` is the factory; `services()` is the production wiring, built from this
process's environment on first use (never at import: a cold start stays cheap) and shared by every
invocation of the warm container. The local stack, benchmarks and tests build their own settings and
`Services` and bind a handler to them with `app.create_handler`; nothing global is swapped or reset.
"""

from __future__ import annotations

from functools import cache

from functions.webhooks.logic import Services
from functions.webhooks.settings import WebhookSettings
from functions.webhooks.twilio_calls import CallsApi, TwilioRestCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.segments import DynamoSegments


@cache
def _twilio(account_sid: str, auth_token: str, base_url: str) -> TwilioRestCalls:
    return TwilioRestCalls(account_sid=account_sid, auth_token=auth_token, base_url=base_url)


def build_services(settings: WebhookSettings) -> Services:
    """The real adapters for `settings`: DynamoDB tables, Twilio REST (lazily)."""

    def calls_api() -> CallsApi:
        return _twilio(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_api_base_url,
        )

    return Services(
        settings=settings,
        store=DynamoWebhookCalls(settings.calls_table),
        calls_api=calls_api,
        segments=DynamoSegments(settings.transcripts_table),
    )


@cache
def services() -> Services:
    """The process's wiring, from its environment's settings (a `ConfigError` names what is wrong)."""
    return build_services(WebhookSettings.from_env())
