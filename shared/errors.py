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


class StoreError(CallscribeError):
    """A table refused or failed a read or write for a reason other than our own write condition.

    Raised by the data layer (`shared/dal/`) in place of pynamodb's exceptions, so no tier has to
    know the library: the webhooks answer 503 (the retry finishes the idempotent write), the
    streamer's writers retry it, the summaries Lambda fails and EventBridge redelivers.
    """
