"""Settings of the recordings Lambda, read from the environment when its service is built.

Required: the contract's resource names (`CALLS_TABLE`, `TRANSCRIPTS_TABLE`, `RECORDINGS_BUCKET`),
the Twilio account (`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, or `TWILIO_SECRET_ARN`) and the
Deepgram key (`DEEPGRAM_API_KEY` or `DEEPGRAM_SECRET_ARN`). The Deepgram options
(`DEEPGRAM_MODEL`, `DEEPGRAM_LANGUAGE`, `DEEPGRAM_REDACT`, …) are the streamer's own variables,
read through the same model (`shared.deepgram.DeepgramOptions`), so a recording is heard as the
live stream was. Everything else has a default sized for calls of up to a few hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from shared.costs import CostSettings
from shared.deepgram import DeepgramOptions
from shared.redaction import RedactionSettings
from shared.settings import TWILIO_SECRET_SOURCES, SecretSource, TableSettings, TwilioSettings

MEBIBYTE = 1024 * 1024


class DeepgramBatchSettings(DeepgramOptions):
    """The shared Deepgram options plus how the pre-recorded request is made."""

    # Per attempt, waiting for Deepgram's answer (it transcribes the whole file before answering;
    # Deepgram's docs warn hour-long audio can take minutes). Also capped by the Lambda's time left.
    batch_timeout_seconds: float = Field(default=600.0, gt=0, le=900)
    batch_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    batch_attempts: int = Field(default=3, ge=1, le=10)  # 408/429/5xx and connection errors only


class RecordingSettings(TableSettings, TwilioSettings):
    secret_sources: ClassVar[Mapping[str, SecretSource]] = TWILIO_SECRET_SOURCES

    recordings_bucket: str
    # SSE-KMS with this key when set (the role needs kms:GenerateDataKey on it), else SSE-S3 (AES256)
    recordings_kms_key_id: str | None = None
    # Twilio's dual-channel WAV is 16-bit PCM at 8 kHz: 32 kB/s, ~115 MB an hour. The default takes
    # a call of Twilio's default 4-hour limit (~460 MB); a bigger recording is refused (non-retryable)
    # before it fills /tmp (the function's 1 GiB).
    recording_max_bytes: int = Field(default=512 * MEBIBYTE, ge=1024)
    recording_memory_bytes: int = Field(default=16 * MEBIBYTE, ge=0)  # beyond this the WAV spills to /tmp
    recording_download_timeout_seconds: float = Field(default=30.0, gt=0)  # connect, and between bytes
    recording_download_attempts: int = Field(default=4, ge=1, le=10)  # 429/5xx and connection errors
    recording_retry_backoff_seconds: float = Field(default=1.0, ge=0)  # full jitter, doubling
    # Delete Twilio's copy once ours is stored and named on the call (Twilio bills storage; some
    # deployments must not keep recordings at a vendor). Off by default: deleting is not undoable.
    delete_twilio_recordings: bool = False
    deepgram: DeepgramBatchSettings
    costs: CostSettings = Field(default_factory=CostSettings)  # CALL_PRICES
    # TRANSCRIPT_REDACTION, TRANSCRIPT_REDACTION_PATTERNS: the streamer's own, so both tiers redact alike
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
