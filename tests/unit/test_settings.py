"""Settings: read once from the environment, clear errors naming the variable, secrets never empty."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

import pytest
from pydantic import Field, SecretStr, model_validator

from shared import settings as settings_module
from shared.errors import ConfigError
from shared.settings import EnvGroup, EnvSettings, SecretSource, TableSettings, TwilioSettings


def test_fields_are_read_from_upper_case_env_names() -> None:
    settings = TableSettings.from_env({"CALLS_TABLE": "c", "TRANSCRIPTS_TABLE": "t", "UNRELATED": "x"})
    assert (settings.calls_table, settings.transcripts_table) == ("c", "t")


def test_missing_values_are_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        TableSettings.from_env({"UNRELATED": "x"})
    message = str(caught.value)
    assert "missing required environment variable CALLS_TABLE" in message
    assert "TRANSCRIPTS_TABLE" in message


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


class _Speech(EnvGroup):
    env_prefix: ClassVar[str] = "SPEECH_"
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {
        "api_key": SecretSource(arn_env="SPEECH_SECRET_ARN", json_key="api_key")
    }

    api_key: SecretStr
    model: str = "nova-3"
    min_ms: int = 20
    max_ms: int = 100

    @model_validator(mode="after")
    def _ordered(self) -> _Speech:
        if self.max_ms < self.min_ms:
            raise ValueError("SPEECH_MAX_MS must be at least SPEECH_MIN_MS")
        return self


class _Limits(EnvGroup):
    max_calls: int = 200


class _Tier(EnvSettings):
    name: str
    speech: _Speech
    limits: _Limits = Field(default_factory=_Limits)


def test_groups_read_their_fields_with_their_prefix() -> None:
    tier = _Tier.from_env(
        {"NAME": "t", "SPEECH_API_KEY": "k", "SPEECH_MODEL": "nova-2", "MAX_CALLS": "7", "MODEL": "x"}
    )
    assert tier.name == "t"
    assert (tier.speech.api_key.get_secret_value(), tier.speech.model) == ("k", "nova-2")
    assert tier.limits.max_calls == 7
    assert _Tier.from_env({"NAME": "t", "SPEECH_API_KEY": "k"}).limits == _Limits()


def test_errors_in_groups_name_the_environment_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        _Tier.from_env({"NAME": "t", "MAX_CALLS": "many"})
    message = str(caught.value)
    assert "missing required environment variable SPEECH_API_KEY (or SPEECH_SECRET_ARN" in message
    assert "invalid environment variable MAX_CALLS" in message
    with pytest.raises(ConfigError, match=r"^_Tier: SPEECH_MAX_MS must be at least SPEECH_MIN_MS$"):
        _Tier.from_env({"NAME": "t", "SPEECH_API_KEY": "k", "SPEECH_MIN_MS": "50", "SPEECH_MAX_MS": "40"})


def test_a_group_secret_comes_from_its_arn_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []

    def fake_fetch_secret(arn: str) -> str:
        read.append(arn)
        return json.dumps({"api_key": "from-secrets-manager"})

    monkeypatch.setattr(settings_module, "fetch_secret", fake_fetch_secret)
    tier = _Tier.from_env({"NAME": "t", "SPEECH_SECRET_ARN": "arn:speech"})
    assert tier.speech.api_key.get_secret_value() == "from-secrets-manager"
    assert read == ["arn:speech"]
    plain = _Tier.from_env({"NAME": "t", "SPEECH_SECRET_ARN": "arn:speech", "SPEECH_API_KEY": "plain"})
    assert plain.speech.api_key.get_secret_value() == "plain"
    assert read == ["arn:speech"]  # a plain value wins: the secret is not even read


def test_one_secret_feeding_several_fields_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []

    def fake_fetch_secret(arn: str) -> str:
        read.append(arn)
        return json.dumps({"account_sid": "AC9", "auth_token": "t", "auth_token_secondary": "s"})

    monkeypatch.setattr(settings_module, "fetch_secret", fake_fetch_secret)
    settings = TwilioSettings.from_env({"TWILIO_SECRET_ARN": "arn:twilio"})
    assert (settings.twilio_account_sid, settings.auth_tokens()) == ("AC9", ("t", "s"))
    assert read == ["arn:twilio"]


def test_only_upper_case_names_are_read() -> None:
    with pytest.raises(ConfigError, match="missing required environment variable CALLS_TABLE"):
        TableSettings.from_env({"calls_table": "c", "TRANSCRIPTS_TABLE": "t"})


def test_secondary_auth_token_is_optional_and_verification_only() -> None:
    base = {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "current"}
    assert TwilioSettings.from_env(base).auth_tokens() == ("current",)
    assert TwilioSettings.from_env({**base, "TWILIO_AUTH_TOKEN_SECONDARY": ""}).auth_tokens() == ("current",)
    rotating = TwilioSettings.from_env({**base, "TWILIO_AUTH_TOKEN_SECONDARY": "next"})
    assert rotating.auth_tokens() == ("current", "next")  # the primary first: it signs, both verify
    assert rotating.twilio_auth_token.get_secret_value() == "current"
    assert "next" not in repr(rotating)
