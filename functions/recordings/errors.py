"""Why a recording could not be reconciled, and whether trying again can help.

Every error is raised out of the handler, so the event is retried by Lambda's asynchronous invoke
and then lands in the dead-letter queue: nothing is lost silently. `retryable` only says what the
retry can expect, for the logs and the `RecordingFailures` metric (dimension `reason`): a missing
recording (404) or a Deepgram 400 will fail again the same way, and an operator has to look at the
event in the DLQ; a 5xx or a timeout usually passes on the next attempt.
"""

from __future__ import annotations

from shared.errors import CallscribeError


class RecordingError(CallscribeError):
    """Base of the recordings tier's failures: `reason` names it in metrics, `retryable` says
    whether a later attempt can succeed without anyone changing anything."""

    reason = "recording-failed"
    retryable = True

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class RecordingUnavailableError(RecordingError):
    """Twilio, Deepgram or S3 failed for a while (5xx, 429, timeouts, resets) after our own retries."""


class RecordingRejectedError(RecordingError):
    """A request was refused for good (4xx, a missing recording, a file we cannot use): retrying
    the event will fail the same way."""

    retryable = False


class RecordingNotFoundError(RecordingRejectedError):
    """Twilio has no such recording (404): deleted, or another account's."""

    reason = "recording-not-found"


class InvalidRecordingError(RecordingRejectedError):
    """The file is not a WAV we can transcribe (empty, truncated header, not RIFF/WAVE)."""

    reason = "invalid-wav"


class RecordingTooLargeError(RecordingRejectedError):
    """The recording is larger than RECORDING_MAX_BYTES."""

    reason = "too-large"


class TranscriptionRejectedError(RecordingRejectedError):
    """Deepgram refused the request (a 4xx other than 408/429): a bad option, key or file."""

    reason = "deepgram-rejected"


class DeadlineError(RecordingUnavailableError):
    """Too little of the Lambda's time is left to wait for Deepgram; a fresh invocation retries."""

    reason = "deadline"
