"""In AWS the secrets come from Secrets Manager by ARN; a plain env value still wins (local runs)."""

from __future__ import annotations

import json

import boto3
import pytest

from callscribe_local.aws_local import LocalAws
from shared.errors import ConfigError
from shared.settings import TwilioSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def twilio_secret_arn(local_stack: LocalAws) -> str:
    client = boto3.client("secretsmanager")
    secret = json.dumps({"account_sid": "AC" + "1" * 32, "auth_token": "from-secrets-manager"})
    name = f"callscribe/twilio-{id(client)}"
    return client.create_secret(Name=name, SecretString=secret)["ARN"]


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
