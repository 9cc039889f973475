"""The streamer's settings, read once in `main()` from the environment (names in docs/configuration.md).

Every value but the resource names, the two secrets and STREAM_URL has a working default, so a local
run or a test sets only what ARCHITECTURE.md lists. Lists (redact, keyterm) are comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlencode

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import (
    ANTHROPIC_SECRET_SOURCES,
    DEEPGRAM_SECRET_SOURCES,
    TWILIO_SECRET_SOURCES,
    SecretSource,
    TableSettings,
)
from streamer.contract import SERVICE_NAME

DEFAULT_SERVICE_NAME = SERVICE_NAME


class StreamerSettings(TableSettings):
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {
        "twilio_auth_token": TWILIO_SECRET_SOURCES["twilio_auth_token"],
        "twilio_account_sid": TWILIO_SECRET_SOURCES["twilio_account_sid"],
        **DEEPGRAM_SECRET_SOURCES,
        **ANTHROPIC_SECRET_SOURCES,
        "agent_tools_signing_secret": SecretSource(
            arn_env="AGENT_TOOLS_SECRET_ARN", json_key="signing_secret"
        ),
    }

    # --- contract names ---------------------------------------------------------------------------
    twilio_auth_token: SecretStr
    deepgram_api_key: SecretStr
    stream_url: str
    deepgram_url: str = "wss://api.deepgram.com"
    port: int = Field(default=8080, ge=0, le=65535)
    host: str = "0.0.0.0"

    # --- capacity and lifecycle ---------------------------------------------------------------------
    max_calls: int = Field(default=200, ge=1)
    # Beyond this many live calls upgrades get 503. Above MAX_CALLS because the load balancer needs a
    # health-check interval or two to notice "not ready"; calls arriving meanwhile are still served.
    hard_max_calls: int | None = Field(default=None, ge=1)
    drain_seconds: float = Field(default=90.0, ge=0)
    start_timeout_seconds: float = Field(default=10.0, gt=0)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)

    # --- Deepgram ------------------------------------------------------------------------------------
    deepgram_model: str = "nova-3"
    deepgram_language: str = "en"
    deepgram_interim_results: bool = True
    deepgram_endpointing_ms: int | None = 300
    deepgram_utterance_end_ms: int | None = 1000
    deepgram_smart_format: bool = True
    deepgram_punctuate: bool = True
    # SpeechStarted events: agent mode's barge-in fires on them instead of waiting for the first
    # interim words; transcription-only calls ignore them (a few small messages per utterance)
    deepgram_vad_events: bool = True
    deepgram_redact: str = ""
    deepgram_keyterm: str = ""
    deepgram_keepalive_seconds: float = Field(default=4.0, gt=0)
    deepgram_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    deepgram_backoff_base_seconds: float = Field(default=0.25, gt=0)
    deepgram_backoff_max_seconds: float = Field(default=8.0, gt=0)
    deepgram_max_attempts: int = Field(default=12, ge=1)
    deepgram_finalize_timeout_seconds: float = Field(default=8.0, gt=0)
    deepgram_max_chunk_bytes: int = Field(default=16000, ge=160)
    # Audio goes to Deepgram in chunks of at least this much (Twilio sends 20 ms frames): 40 ms halves
    # the outbound message rate, the streamer's biggest CPU cost, for at most 20 ms of added latency.
    deepgram_min_chunk_ms: int = Field(default=40, ge=20, le=250)
    replay_buffer_seconds: float = Field(default=30.0, gt=0)
    max_silence_fill_ms: int = Field(default=1000, ge=0)

    # --- segment store -------------------------------------------------------------------------------
    segment_batch_size: int = Field(default=25, ge=1, le=25)
    segment_queue_size: int = Field(default=10000, ge=1)
    segment_writer_threads: int = Field(default=2, ge=1)
    segment_write_attempts: int = Field(default=6, ge=1)
    segment_flush_timeout_seconds: float = Field(default=30.0, gt=0)

    # --- agent mode (docs/agent.md); unused by transcription-only calls ------------------------------
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    twilio_account_sid: str | None = None  # unset: the account in the stream's start message
    twilio_api_base_url: str = "https://api.twilio.com"
    call_routes: str = ""
    agent_model: str = "claude-haiku-5-5"
    agent_max_tokens: int = Field(default=400, ge=16)
    agent_prompt_version: str = "v1"
    agent_model_timeout_seconds: float = Field(default=20.0, gt=0)
    agent_max_tool_rounds: int = Field(default=4, ge=1)
    agent_silence_prompt_seconds: float = Field(default=25.0, gt=0)
    agent_silence_hangup_seconds: float = Field(default=60.0, gt=0)
    agent_max_call_seconds: float = Field(default=1800.0, gt=0)
    agent_dtmf_wait_seconds: float = Field(default=1.0, ge=0)
    agent_end_grace_seconds: float = Field(default=5.0, ge=0)
    agent_transfer_allowlist: str = ""  # comma-separated E.164 numbers the model may transfer to
    agent_tools_signing_secret: SecretStr | None = None  # HMAC key for HTTP tool requests

    # --- observability -------------------------------------------------------------------------------
    powertools_service_name: str = DEFAULT_SERVICE_NAME
    metrics_interval_seconds: float = Field(default=60.0, gt=0)

    @field_validator("deepgram_endpointing_ms", "deepgram_utterance_end_ms", mode="before")
    @classmethod
    def _off_means_none(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"false", "off", "none", ""}:
            return None
        return value

    @model_validator(mode="after")
    def _check(self) -> StreamerSettings:
        if not self.stream_url.startswith(("wss://", "ws://")):
            raise ValueError("STREAM_URL must be the public wss:// URL of /media")
        if not self.deepgram_url.startswith(("wss://", "ws://")):
            raise ValueError("DEEPGRAM_URL must be a ws:// or wss:// base URL")
        if self.agent_silence_hangup_seconds <= self.agent_silence_prompt_seconds:
            raise ValueError("AGENT_SILENCE_HANGUP_SECONDS must be longer than AGENT_SILENCE_PROMPT_SECONDS")
        if self.hard_max_calls is not None and self.hard_max_calls < self.max_calls:
            raise ValueError("HARD_MAX_CALLS must be at least MAX_CALLS")
        return self

    @property
    def hard_cap(self) -> int:
        return self.hard_max_calls or self.max_calls + max(10, self.max_calls // 4)

    @property
    def replay_buffer_bytes(self) -> int:
        return int(self.replay_buffer_seconds * 8000)

    def deepgram_listen_url(self) -> str:
        """`/v1/listen` with one mono 8 kHz mu-law stream per connection (one connection per track)."""
        params: list[tuple[str, str]] = [
            ("model", self.deepgram_model),
            ("language", self.deepgram_language),
            ("encoding", "mulaw"),
            ("sample_rate", "8000"),
            ("channels", "1"),
            ("interim_results", _flag(self.deepgram_interim_results)),
            ("smart_format", _flag(self.deepgram_smart_format)),
            ("punctuate", _flag(self.deepgram_punctuate)),
            ("vad_events", _flag(self.deepgram_vad_events)),
            (
                "endpointing",
                "false" if self.deepgram_endpointing_ms is None else str(self.deepgram_endpointing_ms),
            ),
        ]
        # utterance_end_ms is only valid with interim results (Deepgram rejects it otherwise)
        if self.deepgram_utterance_end_ms is not None and self.deepgram_interim_results:
            params.append(("utterance_end_ms", str(self.deepgram_utterance_end_ms)))
        params += [("redact", v) for v in _split(self.deepgram_redact)]
        params += [("keyterm", v) for v in _split(self.deepgram_keyterm)]
        return f"{self.deepgram_url.rstrip('/')}/v1/listen?{urlencode(params)}"

    def deepgram_speak_url(self, voice: str) -> str:
        """`/v1/speak` for one call's TTS socket: raw 8 kHz mu-law, exactly what Twilio plays."""
        params = {"model": voice, "encoding": "mulaw", "sample_rate": "8000", "container": "none"}
        return f"{self.deepgram_url.rstrip('/')}/v1/speak?{urlencode(params)}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
