"""Errors of the summaries Lambda. Every one of them is raised out of the handler on purpose:
EventBridge then retries the event and finally dead-letters it, and the idempotency record of the
failed attempt is released so the retry runs in full. Nothing is stored before the summary is whole.
"""

from __future__ import annotations

from shared.errors import CallscribeError


class SummaryError(CallscribeError):
    """Base of the summaries' errors."""


class ModelRequestRejectedError(SummaryError):
    """The Messages API refused the request (4xx other than 408/409/429): a bug or a bad setting."""


class ModelUnavailableError(SummaryError):
    """The Messages API failed after the SDK's own retries (overload, rate limit, 5xx, timeout)."""


class ModelOutputError(SummaryError):
    """The model answered, but not with a whole, valid summary (cut off, refused, or off-schema)."""


class TranscriptIncompleteError(SummaryError):
    """Fewer segments are readable than the event announced: retry rather than summarise a part."""


class DeadlineError(SummaryError):
    """Too little of the Lambda's time is left for another model request; the retry starts afresh."""
