"""StreamerSettings: the contract names, working defaults, and the Deepgram URL built from them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shared.errors import ConfigError
from streamer.config import StreamerSettings

BASE = {
    "CALLS_TABLE": "calls",
    "TRANSCRIPTS_TABLE": "transcripts",
    "EVENT_BUS_NAME": "bus",
    "TWILIO_AUTH_TOKEN": "token",
    "DEEPGRAM_API_KEY": "key",
    "STREAM_URL": "wss://example.test/media",
}


def test_defaults_work_with_only_the_contract_names() -> None:
    settings = StreamerSettings.from_env(BASE)
    assert settings.port == 8080
    assert settings.deepgram_url == "wss://api.deepgram.com"
    assert settings.drain_seconds >= 60
    assert settings.hard_cap > settings.max_calls
    assert settings.powertools_service_name == "callscribe-streamer"
    query = parse_qs(urlsplit(settings.deepgram_listen_url()).query)
    assert urlsplit(settings.deepgram_listen_url()).path == "/v1/listen"
    assert query["model"] == ["nova-3"]
    assert query["encoding"] == ["mulaw"]
    assert query["sample_rate"] == ["8000"]
    assert query["interim_results"] == ["true"]
    assert query["utterance_end_ms"] == ["1000"]
    assert "redact" not in query


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
    url = settings.deepgram_listen_url()
    assert url.startswith("ws://127.0.0.1:9/v1/listen?")
    query = parse_qs(urlsplit(url).query)
    assert query["model"] == ["nova-2-phonecall"]
    assert query["redact"] == ["pci", "ssn"]
    assert query["keyterm"] == ["callscribe", "Twilio"]
    assert query["endpointing"] == ["false"]
    assert "utterance_end_ms" not in query  # only valid with interim results
    assert settings.hard_cap == 320


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEEPGRAM_API_KEY": ""}, "DEEPGRAM_API_KEY (or DEEPGRAM_SECRET_ARN"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN (or TWILIO_SECRET_ARN"),
        ({"STREAM_URL": "https://example.test/media"}, "STREAM_URL"),
        ({"MAX_CALLS": "10", "HARD_MAX_CALLS": "5"}, "HARD_MAX_CALLS"),
        ({"PORT": "eighty"}, "PORT"),
    ],
)
def test_bad_configuration_fails_fast_naming_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        StreamerSettings.from_env({**BASE, **overrides})
