"""Agent settings: defaults that work, clear errors for what cannot, checked before any call."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.errors import ConfigError
from streamer.agent.deps import AgentDeps
from streamer.config import StreamerSettings

BASE = {
    "CALLS_TABLE": "c",
    "TRANSCRIPTS_TABLE": "t",
    "TWILIO_AUTH_TOKEN": "token",
    "DEEPGRAM_API_KEY": "dg",
    "STREAM_URL": "wss://streamer.example.com/media",
}


def test_defaults_and_the_speak_url() -> None:
    settings = StreamerSettings.from_env(BASE)
    assert (settings.agent.silence_prompt_seconds, settings.agent.silence_hangup_seconds) == (25.0, 60.0)
    assert settings.anthropic.api_key is None
    assert settings.deepgram.speak_url("aura-2-thalia-en") == (
        "wss://api.deepgram.com/v1/speak?model=aura-2-thalia-en&encoding=mulaw&sample_rate=8000&container=none"
    )
    deps = AgentDeps.build(settings)
    assert deps.anthropic is None  # no key: agent calls apologise instead of thinking
    assert deps.settings.transfer_allowlist == ()


def test_hangup_must_come_after_the_prompt() -> None:
    with pytest.raises(ConfigError, match="AGENT_SILENCE_HANGUP_SECONDS must be longer"):
        StreamerSettings.from_env(
            {**BASE, "AGENT_SILENCE_PROMPT_SECONDS": "30", "AGENT_SILENCE_HANGUP_SECONDS": "20"}
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"AGENT_PROMPT_VERSION": "v9"}, "no agent prompt version 'v9'"),
        ({"AGENT_TRANSFER_ALLOWLIST": "+14155550111, 555"}, "not E.164"),
        ({"CALL_ROUTES": '{"*": {"agent": {"voice": 3, "nope": 1}}}'}, "CALL_ROUTES is invalid"),
        (
            {
                "CALL_ROUTES": json.dumps(
                    {
                        "*": {
                            "agent": {"tools": [{"name": "end_call", "description": "x", "url": "https://x"}]}
                        }
                    }
                )
            },
            "built-in names",
        ),
    ],
)
def test_bad_agent_configuration_fails_at_start(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AgentDeps.build(StreamerSettings.from_env({**BASE, **extra}))


def test_the_listen_url_asks_for_speech_started_events_for_barge_in() -> None:
    query = parse_qs(urlsplit(StreamerSettings.from_env(BASE).deepgram.listen_url()).query)
    assert query["vad_events"] == ["true"]
    off = StreamerSettings.from_env({**BASE, "DEEPGRAM_VAD_EVENTS": "false"})
    assert parse_qs(urlsplit(off.deepgram.listen_url()).query)["vad_events"] == ["false"]
