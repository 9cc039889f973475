"""In AWS the secrets come from Secrets Manager by ARN; a plain env value still wins (local runs)."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from callscribe_local.aws_local import LocalAws
from shared.errors import ConfigError
from shared.settings import TwilioSettings

pytestmark = pytest.mark.integration


def create_secret(document: dict[str, str]) -> str:
    client = boto3.client("secretsmanager")
    name = f"callscribe/twilio-{uuid.uuid4().hex}"
    return client.create_secret(Name=name, SecretString=json.dumps(document))["ARN"]


@pytest.fixture
def twilio_secret_arn(local_stack: LocalAws) -> str:
    return create_secret({"account_sid": "AC" + "1" * 32, "auth_token": "from-secrets-manager"})


def test_secret_is_read_by_arn_when_no_plain_value(twilio_secret_arn: str) -> None:
    settings = TwilioSettings.from_env({"TWILIO_SECRET_ARN": twilio_secret_arn})
    assert settings.twilio_account_sid == "AC" + "1" * 32
    assert settings.twilio_auth_token.get_secret_value() == "from-secrets-manager"


def test_plain_value_wins_over_the_secret(twilio_secret_arn: str) -> None:
    settings = TwilioSettings.from_env(
        {"TWILIO_SECRET_ARN": twilio_secret_arn, "TWILIO_AUTH_TOKEN": "local-token"}
    )
    assert settings.twilio_auth_token.get_secret_value() == "local-token"


def test_unreadable_secret_fails_with_its_arn(local_stack: LocalAws) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(ConfigError, match="cannot read secret arn:aws:secretsmanager"):
        TwilioSettings.from_env({"TWILIO_SECRET_ARN": arn})


def test_a_secret_without_a_secondary_token_has_none(twilio_secret_arn: str) -> None:
    settings = TwilioSettings.from_env({"TWILIO_SECRET_ARN": twilio_secret_arn})
    assert settings.twilio_auth_token_secondary is None
    assert settings.auth_tokens() == ("from-secrets-manager",)


def test_secondary_token_during_a_rotation_comes_from_the_same_secret(local_stack: LocalAws) -> None:
    arn = create_secret(
        {"account_sid": "AC" + "1" * 32, "auth_token": "new-primary", "auth_token_secondary": "old-primary"}
    )
    settings = TwilioSettings.from_env({"TWILIO_SECRET_ARN": arn})
    assert settings.auth_tokens() == ("new-primary", "old-primary")


def test_a_plain_string_secret_is_the_primary_token_only(local_stack: LocalAws) -> None:
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name=f"callscribe/plain-{uuid.uuid4().hex}", SecretString="just-a-token")[
        "ARN"
    ]
    settings = TwilioSettings.from_env({"TWILIO_SECRET_ARN": arn, "TWILIO_ACCOUNT_SID": "AC1"})
    assert settings.auth_tokens() == ("just-a-token",)


@pytest.mark.parametrize("with_secondary", [False, True])
def test_the_streamer_reads_the_secondary_token_from_the_same_secret(
    local_stack: LocalAws, with_secondary: bool
) -> None:
    from streamer.config import StreamerSettings  # the streamer's own settings class, same secret

    document = {"account_sid": "AC" + "1" * 32, "auth_token": "new-primary"}
    if with_secondary:
        document["auth_token_secondary"] = "old-primary"
    env = {
        "CALLS_TABLE": "calls",
        "TRANSCRIPTS_TABLE": "transcripts",
        "EVENT_BUS_NAME": "bus",
        "DEEPGRAM_API_KEY": "key",
        "STREAM_URL": "wss://example.test/media",
        "TWILIO_SECRET_ARN": create_secret(document),
    }
    tokens = StreamerSettings.from_env(env).twilio.auth_tokens()
    assert tokens == (("new-primary", "old-primary") if with_secondary else ("new-primary",))
