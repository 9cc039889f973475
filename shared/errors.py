"""Domain exceptions. Tiers map them to responses in one place (HTTP status, close code, retry)."""

from __future__ import annotations


class CallscribeError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigError(CallscribeError):
    """The process is misconfigured: a required setting is missing or invalid. Fails fast at start."""


class InvalidSignatureError(CallscribeError):
    """A Twilio request whose X-Twilio-Signature does not verify: answered 403, nothing written."""


class MalformedRequestError(CallscribeError):
    """A request whose body cannot be parsed into the expected model: answered 400."""


class CallNotFoundError(CallscribeError):
    """No call record exists for the SID asked about."""
