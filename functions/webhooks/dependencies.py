"""The per-process wiring: settings, the call store, the bus publisher, the Twilio REST adapter.

Built on first use (never at import: a cold start stays cheap and tests can start moto first),
then shared by every invocation of the warm container.
"""

from __future__ import annotations

from functools import cache

from functions.webhooks.logic import Services
from functions.webhooks.settings import webhook_settings
from functions.webhooks.twilio_calls import CallsApi, TwilioRestCalls
from shared import aws
from shared.cdr import DynamoCallStore
from shared.events import EventBridgePublisher
from shared.models import TranscriptSegment
from shared.repository import list_segments


@cache
def _twilio(account_sid: str, auth_token: str, base_url: str) -> TwilioRestCalls:
    return TwilioRestCalls(account_sid=account_sid, auth_token=auth_token, base_url=base_url)


_replacement: list[Services] = []


def services() -> Services:
    """The process's wiring (or the one installed with `use`, for local runs and benchmarks)."""
    return _replacement[0] if _replacement else _wired()


def use(replacement: Services | None) -> None:
    """Install other adapters (e.g. in-memory fakes) for this process; None restores the real ones."""
    _replacement.clear()
    if replacement is not None:
        _replacement.append(replacement)


@cache
def _wired() -> Services:
    settings = webhook_settings()

    def calls_api() -> CallsApi:
        return _twilio(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_api_base_url,
        )

    def segments(call_sid: str) -> list[TranscriptSegment]:
        return list_segments(settings.transcripts_table, call_sid)

    return Services(
        settings=settings,
        store=DynamoCallStore(settings.calls_table),
        publisher=EventBridgePublisher(aws.events(), settings.event_bus_name),
        calls_api=calls_api,
        segments=segments,
    )


def reset() -> None:
    """Forget the wiring (tests that change the environment or restart moto)."""
    _wired.cache_clear()
    _twilio.cache_clear()
    _replacement.clear()
