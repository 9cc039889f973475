"""Settings: read once from the environment, clear errors naming the variable, secrets never empty."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared.errors import ConfigError
from shared.settings import EnvSettings, TableSettings, TwilioSettings


def test_fields_are_read_from_upper_case_env_names() -> None:
    settings = TableSettings.from_env(
        {"CALLS_TABLE": "c", "TRANSCRIPTS_TABLE": "t", "EVENT_BUS_NAME": "b", "UNRELATED": "x"}
    )
    assert (settings.calls_table, settings.transcripts_table, settings.event_bus_name) == ("c", "t", "b")


def test_missing_values_are_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        TableSettings.from_env({"CALLS_TABLE": "c"})
    message = str(caught.value)
    assert "missing required environment variable TRANSCRIPTS_TABLE" in message
    assert "EVENT_BUS_NAME" in message


def test_an_empty_value_counts_as_missing_not_as_an_empty_secret() -> None:
    with pytest.raises(ConfigError, match=r"TWILIO_AUTH_TOKEN \(or TWILIO_SECRET_ARN"):
        TwilioSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": ""})


def test_secrets_are_not_shown_in_repr() -> None:
    settings = TwilioSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "hunter2"})
    assert isinstance(settings.twilio_auth_token, SecretStr)
    assert "hunter2" not in repr(settings)
    assert settings.twilio_auth_token.get_secret_value() == "hunter2"
    assert settings.twilio_api_base_url == "https://api.twilio.com"


def test_invalid_values_say_which_variable() -> None:
    class Limits(EnvSettings):
        max_calls: int = 200

    assert Limits.from_env({}).max_calls == 200
    with pytest.raises(ConfigError, match="invalid environment variable MAX_CALLS"):
        Limits.from_env({"MAX_CALLS": "lots"})


def test_secondary_auth_token_is_optional_and_verification_only() -> None:
    base = {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "current"}
    assert TwilioSettings.from_env(base).auth_tokens() == ("current",)
    assert TwilioSettings.from_env({**base, "TWILIO_AUTH_TOKEN_SECONDARY": ""}).auth_tokens() == ("current",)
    rotating = TwilioSettings.from_env({**base, "TWILIO_AUTH_TOKEN_SECONDARY": "next"})
    assert rotating.auth_tokens() == ("current", "next")  # the primary first: it signs, both verify
    assert rotating.twilio_auth_token.get_secret_value() == "current"
    assert "next" not in repr(rotating)
