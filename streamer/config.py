"""The streamer's settings, read once in `main()` from the environment (names in docs/configuration.md).

Composed of one small model per concern, each handed as it is to the code that uses it: `deepgram`
to every `TrackTranscriber`, `agent` to every `AgentConversation`, `limits` to the server, and so on;
nothing is copied field by field into another options type. The environment names stay the flat
ones operators set (`DEEPGRAM_MODEL` is `settings.deepgram.model`; see `shared.settings.EnvGroup`).
CALL_ROUTES is parsed here, once, into the same typed model the webhooks use (`shared/routing.py`).

Every value but the resource names, the two secrets and STREAM_URL has a working default, so a local
run or a test sets only what ARCHITECTURE.md lists. Lists (redact, keyterm, the transfer allow-list)
are comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.anthropic_clients import DEFAULT_MODELS, ModelProvider, ModelProviderSettings, check_model_id
from shared.deepgram import DeepgramOptions, flag, split_list
from shared.feed_publisher import FeedSettings
from shared.redaction import RedactionSettings
from shared.routing import CallRoutes, is_e164, parse_call_routes
from shared.settings import (
    ANTHROPIC_SECRET_SOURCES,
    TWILIO_SECRET_SOURCES,
    EnvGroup,
    SecretSource,
    TableSettings,
    auth_tokens,
)
from streamer.contract import SERVICE_NAME

DEFAULT_SERVICE_NAME = SERVICE_NAME


class ServerSettings(EnvGroup):
    """Where the streamer listens, and the public URL Twilio signs every upgrade with."""

    stream_url: str
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    # Proxies in front that append to X-Forwarded-For: 0 none (the TCP peer is the client), 1 the
    # ALB, 2 CloudFront then the ALB. The client address is that many entries from the right.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=4)

    @field_validator("stream_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://")):
            raise ValueError("must be the public wss:// URL of /media")
        return value


class LimitSettings(EnvGroup):
    """Capacity and lifecycle: how many calls, how long a drain lasts, what one stream may send."""

    max_calls: int = Field(default=200, ge=1)
    # Beyond this many live calls upgrades get 503. Above MAX_CALLS because the load balancer needs a
    # health-check interval or two to notice "not ready"; calls arriving meanwhile are still served.
    hard_max_calls: int | None = Field(default=None, ge=1)
    # Upgraded connections still waiting for a verified `start` are not calls: they never count toward
    # MAX_CALLS or /healthz, and have bounds of their own, sized by what one costs (~20 KB, one file
    # descriptor, ~0.75 ms of CPU per upgrade-to-timeout: docs/benchmarks.md). The task's bound is
    # generous (every upgrade carries the same signature); the per-address one keeps a single source
    # from filling it. START_TIMEOUT_SECONDS keeps each connection short.
    max_pending_streams: int = Field(default=2048, ge=1)
    max_pending_streams_per_address: int = Field(default=32, ge=1)
    drain_seconds: float = Field(default=90.0, ge=0)
    # Twilio sends `connected` and `start` as soon as the upgrade completes
    start_timeout_seconds: float = Field(default=5.0, gt=0)
    # Twilio sends a media frame every 20 ms for the whole call, silence included: this long without
    # one and the stream is ended (its transcript finished and marked incomplete)
    media_idle_timeout_seconds: float = Field(default=15.0, gt=0)
    # Per connection, over every message: Twilio sends 50 a second per track (100 for both). At least
    # 100 so a misconfiguration cannot cut every real call. MESSAGE_BURST is what may arrive at once
    # above that rate: after a network stall TCP delivers Twilio's backlog in one go (100 messages
    # per second of stall), and 2000 covers a stall longer than MEDIA_IDLE_TIMEOUT_SECONDS allows.
    max_messages_per_second: int = Field(default=250, ge=100)
    message_burst: int = Field(default=2000, ge=50)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)

    @model_validator(mode="after")
    def _hard_cap_above_max(self) -> LimitSettings:
        if self.hard_max_calls is not None and self.hard_max_calls < self.max_calls:
            raise ValueError("HARD_MAX_CALLS must be at least MAX_CALLS")
        return self

    @property
    def hard_cap(self) -> int:
        return self.hard_max_calls or self.max_calls + max(10, self.max_calls // 4)


class StreamSettings(EnvGroup):
    """One stream per call (docs/streamer.md, "One stream per call"): how long a stream may wait for
    its claim on the call record, and how often it shows the sweeper it is alive."""

    env_prefix: ClassVar[str] = "STREAM_"

    # The claim (one conditional UpdateItem, retried) normally answers in milliseconds; the stream's
    # audio is kept meanwhile. A table still unreachable after this closes the stream (1011).
    claim_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The owning stream stamps `stream_heartbeat_at` this often; the sweeper's
    # STREAM_HEARTBEAT_STALE_SECONDS (300) must stay well above it plus a write's retries.
    heartbeat_seconds: float = Field(default=30.0, gt=0, le=600)


class TwilioAccountSettings(EnvGroup):
    """The auth token checks every upgrade's signature and every stream's token; agent mode's REST
    calls use it with the account SID. The secondary token (set only while the auth token is rotated,
    docs/deploy.md) is accepted when verifying, never used to call Twilio."""

    env_prefix: ClassVar[str] = "TWILIO_"
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {
        "auth_token": TWILIO_SECRET_SOURCES["twilio_auth_token"],
        "auth_token_secondary": TWILIO_SECRET_SOURCES["twilio_auth_token_secondary"],
        "account_sid": TWILIO_SECRET_SOURCES["twilio_account_sid"],
    }

    auth_token: SecretStr
    auth_token_secondary: SecretStr | None = None
    account_sid: str | None = None  # unset: the account in the stream's start message
    api_base_url: str = "https://api.twilio.com"

    def auth_tokens(self) -> tuple[str, ...]:
        """The tokens an upgrade signature or a stream token may verify with: primary, then secondary."""
        return auth_tokens(self.auth_token, self.auth_token_secondary)


class DeepgramSettings(DeepgramOptions):
    """Deepgram's address, key and transcription options (`shared.deepgram.DeepgramOptions`, shared
    with the recordings Lambda), plus the live-only ones and how a track's connection behaves
    (keepalive, reconnect backoff, chunking, the finalize window)."""

    interim_results: bool = True
    endpointing_ms: int | None = 300
    utterance_end_ms: int | None = 1000
    # SpeechStarted events: agent mode's barge-in fires on them instead of waiting for the first
    # interim words; transcription-only calls ignore them (a few small messages per utterance)
    vad_events: bool = True
    keepalive_seconds: float = Field(default=4.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    backoff_base_seconds: float = Field(default=0.25, gt=0)
    backoff_max_seconds: float = Field(default=8.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    finalize_timeout_seconds: float = Field(default=8.0, gt=0)
    max_chunk_bytes: int = Field(default=16000, ge=160)
    # Audio goes to Deepgram in chunks of at least this much (Twilio sends 20 ms frames): 40 ms halves
    # the outbound message rate, the streamer's biggest CPU cost, for at most 20 ms of added latency.
    min_chunk_ms: int = Field(default=40, ge=20, le=250)

    @field_validator("endpointing_ms", "utterance_end_ms", mode="before")
    @classmethod
    def _off_means_none(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"false", "off", "none", ""}:
            return None
        return value

    @property
    def min_chunk_bytes(self) -> int:
        return self.min_chunk_ms * 8  # 8 kHz mu-law: 8 bytes a millisecond

    def listen_url(self) -> str:
        """`/v1/listen` with one mono 8 kHz mu-law stream per connection (one connection per track)."""
        params: list[tuple[str, str]] = [
            *self.transcription_params(),
            ("encoding", "mulaw"),
            ("sample_rate", "8000"),
            ("channels", "1"),
            ("interim_results", flag(self.interim_results)),
            ("vad_events", flag(self.vad_events)),
            ("endpointing", "false" if self.endpointing_ms is None else str(self.endpointing_ms)),
        ]
        # utterance_end_ms is only valid with interim results (Deepgram rejects it otherwise)
        if self.utterance_end_ms is not None and self.interim_results:
            params.append(("utterance_end_ms", str(self.utterance_end_ms)))
        return f"{self.url.rstrip('/')}/v1/listen?{urlencode(params)}"

    def speak_url(self, voice: str) -> str:
        """`/v1/speak` for one call's TTS socket: raw 8 kHz mu-law, exactly what Twilio plays."""
        params = {"model": voice, "encoding": "mulaw", "sample_rate": "8000", "container": "none"}
        return f"{self.url.rstrip('/')}/v1/speak?{urlencode(params)}"


class AudioSettings(EnvGroup):
    """Each track's unconfirmed audio, kept to replay after a Deepgram drop, and timestamp gaps."""

    replay_buffer_seconds: float = Field(default=30.0, gt=0)
    max_silence_fill_ms: int = Field(default=1000, ge=0)

    @property
    def replay_buffer_bytes(self) -> int:
        return int(self.replay_buffer_seconds * 8000)


class SegmentSettings(EnvGroup):
    """The segment writers (`SegmentStore`) and how long a call's end waits for its writes."""

    env_prefix: ClassVar[str] = "SEGMENT_"

    queue_size: int = Field(default=10000, ge=1)
    # each writes one segment per PutItem (docs/benchmarks.md, "Segment writes", sizes them)
    writer_threads: int = Field(default=4, ge=1)
    write_attempts: int = Field(default=6, ge=1)
    flush_timeout_seconds: float = Field(default=30.0, gt=0)


class AnthropicSettings(EnvGroup):
    """Anthropic's Messages API for agent mode (MODEL_PROVIDER=anthropic); no key means agent calls
    apologise instead of thinking. On Bedrock neither is read: the task role signs the requests."""

    env_prefix: ClassVar[str] = "ANTHROPIC_"
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {
        "api_key": ANTHROPIC_SECRET_SOURCES["anthropic_api_key"],
    }

    api_key: SecretStr | None = None
    base_url: str | None = None


class AgentSettings(EnvGroup):
    """Agent mode (docs/agent.md): the model, its limits, the watchdogs and the transfer allow-list.
    Unused by transcription-only calls."""

    env_prefix: ClassVar[str] = "AGENT_"
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {
        "tools_signing_secret": SecretSource(arn_env="AGENT_TOOLS_SECRET_ARN", json_key="signing_secret"),
    }

    # Unset: Claude Haiku 5.5 as MODEL_PROVIDER names it (StreamerSettings fills it in); on Bedrock an
    # inference profile or foundation model id, checked at start.
    model: str = DEFAULT_MODELS[ModelProvider.ANTHROPIC]
    max_tokens: int = Field(default=400, ge=16)
    prompt_version: str = "v1"
    model_timeout_seconds: float = Field(default=20.0, gt=0)
    max_tool_rounds: int = Field(default=4, ge=1)
    silence_prompt_seconds: float = Field(default=25.0, gt=0)
    silence_hangup_seconds: float = Field(default=60.0, gt=0)
    max_call_seconds: float = Field(default=1800.0, gt=0)
    dtmf_wait_seconds: float = Field(default=1.0, ge=0)
    end_grace_seconds: float = Field(default=5.0, ge=0)
    transfer_allowlist: tuple[str, ...] = ()  # E.164 numbers the model may transfer to
    tools_signing_secret: SecretStr | None = None  # HMAC key for HTTP tool requests

    @field_validator("transfer_allowlist", mode="before")
    @classmethod
    def _e164_numbers(cls, value: object) -> object:
        numbers = split_list(value) if isinstance(value, str) else value
        if isinstance(numbers, list | tuple):
            bad = [n for n in numbers if not (isinstance(n, str) and is_e164(n))]
            if bad:
                raise ValueError(f"these numbers are not E.164: {bad}")
        return numbers

    @model_validator(mode="after")
    def _hangup_after_prompt(self) -> AgentSettings:
        if self.silence_hangup_seconds <= self.silence_prompt_seconds:
            raise ValueError("AGENT_SILENCE_HANGUP_SECONDS must be longer than AGENT_SILENCE_PROMPT_SECONDS")
        return self


class ObservabilitySettings(EnvGroup):
    powertools_service_name: str = DEFAULT_SERVICE_NAME
    metrics_interval_seconds: float = Field(default=60.0, gt=0)


class StreamerSettings(TableSettings):
    server: ServerSettings
    limits: LimitSettings = Field(default_factory=LimitSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    twilio: TwilioAccountSettings
    deepgram: DeepgramSettings
    audio: AudioSettings = Field(default_factory=AudioSettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    # MODEL_PROVIDER, BEDROCK_REGION, ANTHROPIC_BEDROCK_BASE_URL: where the agent's model is asked
    model_provider: ModelProviderSettings = Field(default_factory=ModelProviderSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    call_routes: CallRoutes = Field(default_factory=CallRoutes)  # CALL_ROUTES: the webhooks' JSON
    # TRANSCRIPT_REDACTION, TRANSCRIPT_REDACTION_PATTERNS: segments redacted before they are written
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)  # FEED_HTTP_URL unset: no live feed

    @field_validator("call_routes", mode="before")
    @classmethod
    def _parse_routes(cls, value: Any) -> CallRoutes:
        return parse_call_routes(value)  # ConfigError (not a validation error) names the route

    @model_validator(mode="before")
    @classmethod
    def _provider_default_model(cls, data: Any) -> Any:
        """AGENT_MODEL unset: the default model as the chosen provider names it."""
        if not isinstance(data, dict):
            return data
        provider, agent = data.get("model_provider"), data.get("agent")
        chosen = provider.get("model_provider") if isinstance(provider, dict) else None
        if chosen and isinstance(agent, dict) and not agent.get("model"):
            data = {**data, "agent": {**agent, "model": DEFAULT_MODELS.get(chosen, agent.get("model"))}}
        return data

    @model_validator(mode="after")
    def _model_for_provider(self) -> StreamerSettings:
        try:
            check_model_id(self.model_provider.model_provider, self.agent.model)
        except ValueError as exc:
            raise ValueError(f"AGENT_MODEL: {exc}") from None
        return self
