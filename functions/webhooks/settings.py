"""The webhooks function's configuration, validated when its services are built (docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from functions.webhooks.destinations import allowed_prefixes, configured_numbers, parse_prefixes
from shared import listen
from shared.costs import CostSettings
from shared.routing import E164, CallRoutes, parse_call_routes
from shared.settings import TWILIO_SECRET_SOURCES, SecretSource, TableSettings, TwilioSettings

DEFAULT_VOICEMAIL_GREETING = (
    "Sorry, nobody can take your call right now. Please leave a message after the tone, "
    "then hang up when you are done."
)
DEFAULT_VOICEMAIL_THANKS = "Thank you. Your message has been recorded. Goodbye."
DEFAULT_UNAVAILABLE = "Sorry, we cannot connect your call right now. Goodbye."


class WebhookSettings(TableSettings, TwilioSettings):
    """Table names, Twilio credentials, and how calls are answered."""

    secret_sources: ClassVar[Mapping[str, SecretSource]] = TWILIO_SECRET_SOURCES

    stream_url: str
    webhook_base_url: str | None = None
    call_routes: CallRoutes = Field(default_factory=CallRoutes)
    recording_notice: str | None = None
    voicemail_greeting: str = DEFAULT_VOICEMAIL_GREETING
    voicemail_max_seconds: int = Field(default=120, ge=5, le=3600)
    twilio_from_number: E164 | None = None
    # OUTBOUND_ALLOWED_PREFIXES: the numbers POST /calls may dial (functions/webhooks/destinations.py);
    # unset, the country calling codes of the numbers configured above
    outbound_allowed_prefixes: tuple[str, ...] | None = None
    dial_timeout_seconds: int = Field(default=25, ge=5, le=600)
    # LISTEN_ALLOWED_URLS: the TwiML URLs listen routes may hand calls to (shared/listen.py); unset,
    # none, so a CALL_ROUTES with a listen route does not load
    listen_allowed_urls: tuple[str, ...] = ()
    costs: CostSettings = Field(default_factory=CostSettings)  # CALL_PRICES

    @field_validator("stream_url")
    @classmethod
    def _stream_url_is_websocket(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("wss", "ws") or not parts.netloc:
            raise ValueError("must be a ws:// or wss:// URL such as wss://stream.example.com/media")
        if parts.query:
            raise ValueError("Twilio refuses a stream URL with a query string; use <Parameter>s")
        return value

    @field_validator("webhook_base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(
                "must be the public https:// base URL Twilio calls, e.g. https://api.example.com"
            )
        return value.rstrip("/")

    @field_validator("call_routes", mode="before")
    @classmethod
    def _parse_routes(cls, value: Any) -> CallRoutes:
        return parse_call_routes(value)

    @field_validator("outbound_allowed_prefixes", mode="before")
    @classmethod
    def _prefixes(cls, value: Any) -> tuple[str, ...] | None:
        return parse_prefixes(value)

    @field_validator("listen_allowed_urls", mode="before")
    @classmethod
    def _listen_urls(cls, value: Any) -> tuple[str, ...]:
        return listen.parse_allowed_urls(value, loopback_http=True)  # loopback http: local runs only

    @model_validator(mode="after")
    def _listen_targets_allowed(self) -> WebhookSettings:
        """Every listen route's URL is allowed, and none points back at this API (a redirect loop)."""
        targets = self.call_routes.listen_targets()
        listen.check_targets(
            targets,
            self.listen_allowed_urls,
            loopback_http=True,
            routes_name="CALL_ROUTES",
            allowed_name="LISTEN_ALLOWED_URLS",
        )
        base = self.webhook_base_url
        looping = [key for key, url in targets if base and listen.is_under(url, base)]
        if looping:
            raise ValueError(
                f"CALL_ROUTES routes {looping} hand calls back to this API ({base}): every hand-off "
                "would start the call over; name the team's own TwiML URL"
            )
        return self

    def dial_prefixes(self) -> tuple[str, ...]:
        """What POST /calls may dial: the setting, else the configured numbers' country codes."""
        numbers = configured_numbers(self.call_routes, self.twilio_from_number)
        return allowed_prefixes(self.outbound_allowed_prefixes, numbers)
