"""StreamerSettings: the contract names, working defaults, and the Deepgram URL built from them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from shared import settings as settings_module
from shared.errors import ConfigError
from shared.redaction import parse_patterns
from shared.routing import AgentRoute, CallRoutes
from streamer.config import StreamerSettings

BASE = {
    "CALLS_TABLE": "calls",
    "TRANSCRIPTS_TABLE": "transcripts",
    "TWILIO_AUTH_TOKEN": "token",
    "DEEPGRAM_API_KEY": "key",
    "STREAM_URL": "wss://example.test/media",
}


def test_defaults_work_with_only_the_contract_names() -> None:
    settings = StreamerSettings.from_env(BASE)
    assert settings.server.port == 8080
    assert settings.deepgram.url == "wss://api.deepgram.com"
    assert settings.limits.drain_seconds >= 60
    assert settings.limits.hard_cap > settings.limits.max_calls
    assert settings.observability.powertools_service_name == "callscribe-streamer"
    query = parse_qs(urlsplit(settings.deepgram.listen_url()).query)
    assert urlsplit(settings.deepgram.listen_url()).path == "/v1/listen"
    assert query["model"] == ["nova-3"]
    assert query["encoding"] == ["mulaw"]
    assert query["sample_rate"] == ["8000"]
    assert query["interim_results"] == ["true"]
    assert query["utterance_end_ms"] == ["1000"]
    assert "redact" not in query


def test_stream_limits_default_to_what_twilio_needs() -> None:
    limits = StreamerSettings.from_env({**BASE, "MAX_CALLS": "50"}).limits
    # thousands whatever MAX_CALLS (a waiting connection costs ~20 KB and one descriptor), and a
    # share per client address far above what Twilio has waiting at once from one of its servers
    assert (limits.max_pending_streams, limits.max_pending_streams_per_address) == (2048, 32)
    assert limits.start_timeout_seconds == 5.0  # Twilio sends `start` at once
    assert limits.media_idle_timeout_seconds == 15.0  # Twilio sends a frame every 20 ms
    assert limits.max_messages_per_second == 250  # 2.5 x Twilio's both-track rate
    assert limits.message_burst >= 100 * limits.media_idle_timeout_seconds  # a stall's backlog


def test_the_secondary_auth_token_verifies_only_while_it_is_set() -> None:
    assert StreamerSettings.from_env(BASE).twilio.auth_tokens() == ("token",)
    rotating = StreamerSettings.from_env({**BASE, "TWILIO_AUTH_TOKEN_SECONDARY": "old"})
    assert rotating.twilio.auth_tokens() == ("token", "old")


def test_deepgram_options_from_the_environment() -> None:
    settings = StreamerSettings.from_env(
        {
            **BASE,
            "DEEPGRAM_URL": "ws://127.0.0.1:9/",
            "DEEPGRAM_MODEL": "nova-2-phonecall",
            "DEEPGRAM_REDACT": "pci, ssn",
            "DEEPGRAM_KEYTERM": "callscribe,Twilio",
            "DEEPGRAM_ENDPOINTING_MS": "false",
            "DEEPGRAM_INTERIM_RESULTS": "false",
            "MAX_CALLS": "300",
            "HARD_MAX_CALLS": "320",
        }
    )
    url = settings.deepgram.listen_url()
    assert url.startswith("ws://127.0.0.1:9/v1/listen?")
    query = parse_qs(urlsplit(url).query)
    assert query["model"] == ["nova-2-phonecall"]
    assert query["redact"] == ["pci", "ssn"]
    assert query["keyterm"] == ["callscribe", "Twilio"]
    assert query["endpointing"] == ["false"]
    assert "utterance_end_ms" not in query  # only valid with interim results
    assert settings.limits.hard_cap == 320


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEEPGRAM_API_KEY": ""}, "DEEPGRAM_API_KEY (or DEEPGRAM_SECRET_ARN"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN (or TWILIO_SECRET_ARN"),
        ({"STREAM_URL": "https://example.test/media"}, "STREAM_URL"),
        ({"MAX_CALLS": "10", "HARD_MAX_CALLS": "5"}, "HARD_MAX_CALLS"),
        ({"PORT": "eighty"}, "PORT"),
        ({"MAX_MESSAGES_PER_SECOND": "50"}, "MAX_MESSAGES_PER_SECOND"),  # below Twilio's own 100
        ({"MEDIA_IDLE_TIMEOUT_SECONDS": "0"}, "MEDIA_IDLE_TIMEOUT_SECONDS"),
    ],
)
def test_bad_configuration_fails_fast_naming_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        StreamerSettings.from_env({**BASE, **overrides})


# Every variable docs/configuration.md lists for the streamer and agent mode (the secrets' *_ARN
# variables aside: tests/integration/test_settings_secrets.py and tests/unit/test_settings.py), with a
# value that is not its default and where that value must land. The names are a contract with infra
# and operators: a settings refactor may move fields, never rename what is read.
ENVIRONMENT = {
    "CALLS_TABLE": ("calls-2", "calls_table", "calls-2"),
    "TRANSCRIPTS_TABLE": ("transcripts-2", "transcripts_table", "transcripts-2"),
    "TWILIO_AUTH_TOKEN": ("token-2", "twilio.auth_token", "token-2"),
    "TWILIO_AUTH_TOKEN_SECONDARY": ("token-old", "twilio.auth_token_secondary", "token-old"),
    "DEEPGRAM_API_KEY": ("key-2", "deepgram.api_key", "key-2"),
    "STREAM_URL": ("wss://other.test/media", "server.stream_url", "wss://other.test/media"),
    "DEEPGRAM_URL": ("ws://127.0.0.1:9", "deepgram.url", "ws://127.0.0.1:9"),
    "PORT": ("9090", "server.port", 9090),
    "HOST": ("127.0.0.1", "server.host", "127.0.0.1"),
    "MAX_CALLS": ("150", "limits.max_calls", 150),
    "HARD_MAX_CALLS": ("170", "limits.hard_max_calls", 170),
    "DRAIN_SECONDS": ("75", "limits.drain_seconds", 75.0),
    "START_TIMEOUT_SECONDS": ("3", "limits.start_timeout_seconds", 3.0),
    "MAX_PENDING_STREAMS": ("900", "limits.max_pending_streams", 900),
    "MAX_PENDING_STREAMS_PER_ADDRESS": ("8", "limits.max_pending_streams_per_address", 8),
    "TRUSTED_PROXY_HOPS": ("2", "server.trusted_proxy_hops", 2),
    "MEDIA_IDLE_TIMEOUT_SECONDS": ("12", "limits.media_idle_timeout_seconds", 12.0),
    "MAX_MESSAGES_PER_SECOND": ("300", "limits.max_messages_per_second", 300),
    "MESSAGE_BURST": ("3000", "limits.message_burst", 3000),
    "MAX_MESSAGE_BYTES": ("2048", "limits.max_message_bytes", 2048),
    "DEEPGRAM_MODEL": ("nova-2-phonecall", "deepgram.model", "nova-2-phonecall"),
    "DEEPGRAM_LANGUAGE": ("es", "deepgram.language", "es"),
    "DEEPGRAM_INTERIM_RESULTS": ("false", "deepgram.interim_results", False),
    "DEEPGRAM_ENDPOINTING_MS": ("150", "deepgram.endpointing_ms", 150),
    "DEEPGRAM_UTTERANCE_END_MS": ("off", "deepgram.utterance_end_ms", None),
    "DEEPGRAM_VAD_EVENTS": ("false", "deepgram.vad_events", False),
    "DEEPGRAM_SMART_FORMAT": ("false", "deepgram.smart_format", False),
    "DEEPGRAM_PUNCTUATE": ("false", "deepgram.punctuate", False),
    "DEEPGRAM_REDACT": ("pci,ssn", "deepgram.redact", ("pci", "ssn")),
    "DEEPGRAM_KEYTERM": ("Acme", "deepgram.keyterm", ("Acme",)),
    "DEEPGRAM_KEEPALIVE_SECONDS": ("3", "deepgram.keepalive_seconds", 3.0),
    "DEEPGRAM_MIN_CHUNK_MS": ("20", "deepgram.min_chunk_ms", 20),
    "DEEPGRAM_MAX_CHUNK_BYTES": ("8000", "deepgram.max_chunk_bytes", 8000),
    "DEEPGRAM_CONNECT_TIMEOUT_SECONDS": ("2", "deepgram.connect_timeout_seconds", 2.0),
    "DEEPGRAM_BACKOFF_BASE_SECONDS": ("0.5", "deepgram.backoff_base_seconds", 0.5),
    "DEEPGRAM_BACKOFF_MAX_SECONDS": ("4", "deepgram.backoff_max_seconds", 4.0),
    "DEEPGRAM_MAX_ATTEMPTS": ("3", "deepgram.max_attempts", 3),
    "DEEPGRAM_FINALIZE_TIMEOUT_SECONDS": ("6", "deepgram.finalize_timeout_seconds", 6.0),
    "REPLAY_BUFFER_SECONDS": ("20", "audio.replay_buffer_seconds", 20.0),
    "MAX_SILENCE_FILL_MS": ("500", "audio.max_silence_fill_ms", 500),
    "STREAM_CLAIM_TIMEOUT_SECONDS": ("4", "stream.claim_timeout_seconds", 4.0),
    "STREAM_HEARTBEAT_SECONDS": ("15", "stream.heartbeat_seconds", 15.0),
    "SEGMENT_QUEUE_SIZE": ("500", "segments.queue_size", 500),
    "SEGMENT_WRITER_THREADS": ("3", "segments.writer_threads", 3),
    "SEGMENT_WRITE_ATTEMPTS": ("2", "segments.write_attempts", 2),
    "SEGMENT_FLUSH_TIMEOUT_SECONDS": ("12", "segments.flush_timeout_seconds", 12.0),
    "METRICS_INTERVAL_SECONDS": ("30", "observability.metrics_interval_seconds", 30.0),
    "POWERTOOLS_SERVICE_NAME": ("svc", "observability.powertools_service_name", "svc"),
    "ANTHROPIC_API_KEY": ("sk-2", "anthropic.api_key", "sk-2"),
    "ANTHROPIC_BASE_URL": ("http://127.0.0.1:9", "anthropic.base_url", "http://127.0.0.1:9"),
    "TWILIO_API_BASE_URL": ("http://127.0.0.1:8", "twilio.api_base_url", "http://127.0.0.1:8"),
    "TWILIO_ACCOUNT_SID": ("AC" + "2" * 32, "twilio.account_sid", "AC" + "2" * 32),
    "AGENT_MODEL": ("claude-x", "agent.model", "claude-x"),
    "AGENT_MAX_TOKENS": ("300", "agent.max_tokens", 300),
    "AGENT_PROMPT_VERSION": ("v2", "agent.prompt_version", "v2"),
    "AGENT_MODEL_TIMEOUT_SECONDS": ("9", "agent.model_timeout_seconds", 9.0),
    "AGENT_MAX_TOOL_ROUNDS": ("2", "agent.max_tool_rounds", 2),
    "AGENT_SILENCE_PROMPT_SECONDS": ("20", "agent.silence_prompt_seconds", 20.0),
    "AGENT_SILENCE_HANGUP_SECONDS": ("40", "agent.silence_hangup_seconds", 40.0),
    "AGENT_MAX_CALL_SECONDS": ("600", "agent.max_call_seconds", 600.0),
    "AGENT_DTMF_WAIT_SECONDS": ("0.5", "agent.dtmf_wait_seconds", 0.5),
    "AGENT_END_GRACE_SECONDS": ("2", "agent.end_grace_seconds", 2.0),
    "AGENT_TRANSFER_ALLOWLIST": ("+14155550111", "agent.transfer_allowlist", ("+14155550111",)),
    "AGENT_TOOLS_SIGNING_SECRET": ("hmac-2", "agent.tools_signing_secret", "hmac-2"),
    "TRANSCRIPT_REDACTION": ("false", "redaction.transcript_redaction", False),
    "TRANSCRIPT_REDACTION_PATTERNS": (
        '{"order": "ORD-\\\\d+"}',
        "redaction.transcript_redaction_patterns",
        parse_patterns({"order": r"ORD-\d+"}),
    ),
}


def _at(settings: object, path: str) -> object:
    value = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_every_documented_variable_is_read_into_its_place() -> None:
    settings = StreamerSettings.from_env({name: raw for name, (raw, _, _) in ENVIRONMENT.items()})
    landed = {name: _at(settings, path) for name, (_, path, _) in ENVIRONMENT.items()}
    assert landed == {name: expected for name, (_, _, expected) in ENVIRONMENT.items()}


def test_call_routes_are_parsed_once_into_the_shared_routing_model() -> None:
    routes = '{"+14155550177": {"agent": {"transferTo": "+14155550111"}}, "*": {"forwardTo": "+14155550199"}}'
    settings = StreamerSettings.from_env({**BASE, "CALL_ROUTES": routes})
    assert isinstance(settings.call_routes, CallRoutes)
    route = settings.call_routes.route_for("+14155550177")
    assert isinstance(route, AgentRoute)
    assert route.agent.transfer_to == "+14155550111"
    assert StreamerSettings.from_env(BASE).call_routes == CallRoutes()  # unset: voicemail everywhere


def test_each_secret_comes_from_its_arn_variable_and_json_key(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = ("account_sid", "auth_token", "auth_token_secondary", "api_key", "signing_secret")
    secret = lambda arn: json.dumps({key: f"{arn}#{key}" for key in keys})  # noqa: E731
    monkeypatch.setattr(settings_module, "fetch_secret", secret)
    arns = {
        "TWILIO_SECRET_ARN": "arn:twilio",
        "DEEPGRAM_SECRET_ARN": "arn:deepgram",
        "ANTHROPIC_SECRET_ARN": "arn:anthropic",
        "AGENT_TOOLS_SECRET_ARN": "arn:tools",
    }
    plain = {k: v for k, v in BASE.items() if k not in ("TWILIO_AUTH_TOKEN", "DEEPGRAM_API_KEY")}
    settings = StreamerSettings.from_env({**plain, **arns})
    assert _at(settings, "twilio.auth_token") == "arn:twilio#auth_token"
    assert _at(settings, "twilio.auth_token_secondary") == "arn:twilio#auth_token_secondary"
    assert _at(settings, "twilio.account_sid") == "arn:twilio#account_sid"
    assert _at(settings, "deepgram.api_key") == "arn:deepgram#api_key"
    assert _at(settings, "anthropic.api_key") == "arn:anthropic#api_key"
    assert _at(settings, "agent.tools_signing_secret") == "arn:tools#signing_secret"
