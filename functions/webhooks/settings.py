"""The webhooks function's configuration, validated when its services are built (docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

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
    """Table and bus names, Twilio credentials, and how calls are answered."""

    secret_sources: ClassVar[Mapping[str, SecretSource]] = TWILIO_SECRET_SOURCES

    stream_url: str
    webhook_base_url: str | None = None
    call_routes: CallRoutes = Field(default_factory=CallRoutes)
    recording_notice: str | None = None
    voicemail_greeting: str = DEFAULT_VOICEMAIL_GREETING
    voicemail_max_seconds: int = Field(default=120, ge=5, le=3600)
    twilio_from_number: E164 | None = None
    dial_timeout_seconds: int = Field(default=25, ge=5, le=600)
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
