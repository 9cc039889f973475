"""Settings as pydantic models, read from the environment once per process.

Every tier declares the settings it needs as a subclass of `EnvSettings`; field `foo_bar` is read
from the environment variable `FOO_BAR`. Secrets are resolved in this order:

1. the plain environment variable (local runs and tests: `TWILIO_AUTH_TOKEN=...`);
2. in AWS, a Secrets Manager secret whose ARN is in the variable named by `secret_sources`
   (for example `TWILIO_SECRET_ARN`, a JSON secret `{"account_sid": ..., "auth_token": ...}`).

A missing required value raises `ConfigError` naming the variable, never an empty-string default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from shared import aws
from shared.errors import ConfigError

S = TypeVar("S", bound="EnvSettings")


class SecretSource(BaseModel):
    """Where a secret field comes from in AWS: the env var holding the ARN, and the JSON key inside."""

    model_config = ConfigDict(frozen=True)

    arn_env: str
    json_key: str | None = None
    # An optional value (the secondary auth token, set only during a rotation) may be absent from
    # the secret; a plain-string secret holds the one required value, never an optional one.
    optional: bool = False


class EnvSettings(BaseModel):
    """Base for per-tier settings: env var `FIELD_NAME` (upper case) feeds field `field_name`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # field name -> where to find it in Secrets Manager when the plain env var is unset
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {}

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(name.upper())
            if raw is None or raw == "":
                source = cls.secret_sources.get(name)
                if source is not None and env.get(source.arn_env):
                    raw = _read_secret(env[source.arn_env], source.json_key, optional=source.optional)
            if raw is not None and raw != "":
                values[name] = raw
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(_describe(cls, exc)) from exc


def _describe(cls: type[EnvSettings], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        env_name = field.upper()
        if error["type"] == "missing":
            source = cls.secret_sources.get(field)
            hint = f" (or {source.arn_env} naming a Secrets Manager secret)" if source else ""
            problems.append(f"missing required environment variable {env_name}{hint}")
        else:
            problems.append(f"invalid environment variable {env_name}: {error['msg']}")
    return f"{cls.__name__}: " + "; ".join(problems)


def _read_secret(arn: str, json_key: str | None, *, optional: bool = False) -> str | None:
    """Fetch one secret value (None: an optional key the secret does not have). Called once per
    field per process (settings are cached), so no extra cache."""
    try:
        secret = aws.secretsmanager().get_secret_value(SecretId=arn)["SecretString"]
    except Exception as exc:  # botocore raises many types; all mean the same thing here
        raise ConfigError(f"cannot read secret {arn}: {exc}") from exc
    if json_key is None:
        return secret
    try:
        document = json.loads(secret)
    except json.JSONDecodeError:
        return None if optional else secret  # a plain-string secret holds just the required value
    if not isinstance(document, dict) or json_key not in document:
        if optional and isinstance(document, dict):
            return None
        raise ConfigError(f"secret {arn} has no key {json_key!r}")
    value = document[json_key]
    return None if optional and value in (None, "") else str(value)


class TableSettings(EnvSettings):
    """Resource names every tier needs (contract names from ARCHITECTURE.md)."""

    calls_table: str
    transcripts_table: str
    event_bus_name: str


TWILIO_SECRET = "TWILIO_SECRET_ARN"  # noqa: S105 - an env var name, not a secret
DEEPGRAM_SECRET = "DEEPGRAM_SECRET_ARN"  # noqa: S105
ANTHROPIC_SECRET = "ANTHROPIC_SECRET_ARN"  # noqa: S105

TWILIO_SECRET_SOURCES: Mapping[str, SecretSource] = {
    "twilio_account_sid": SecretSource(arn_env=TWILIO_SECRET, json_key="account_sid"),
    "twilio_auth_token": SecretSource(arn_env=TWILIO_SECRET, json_key="auth_token"),
    "twilio_auth_token_secondary": SecretSource(
        arn_env=TWILIO_SECRET, json_key="auth_token_secondary", optional=True
    ),
}
DEEPGRAM_SECRET_SOURCES: Mapping[str, SecretSource] = {
    "deepgram_api_key": SecretSource(arn_env=DEEPGRAM_SECRET, json_key="api_key"),
}
ANTHROPIC_SECRET_SOURCES: Mapping[str, SecretSource] = {
    "anthropic_api_key": SecretSource(arn_env=ANTHROPIC_SECRET, json_key="api_key"),
}


class TwilioSettings(EnvSettings):
    """Twilio credentials and REST base (the base is a stand-in's address in tests).

    `twilio_auth_token_secondary` (`TWILIO_AUTH_TOKEN_SECONDARY`, or `auth_token_secondary` in the
    Twilio secret) is set only while the auth token is rotated (docs/deploy.md). It is accepted when
    verifying, never used to sign or to call Twilio: requests Twilio signs with either token, and
    stream tokens our webhooks made with either, keep verifying across the switch.
    """

    secret_sources: ClassVar[Mapping[str, SecretSource]] = TWILIO_SECRET_SOURCES

    twilio_account_sid: str
    twilio_auth_token: SecretStr
    twilio_auth_token_secondary: SecretStr | None = None
    twilio_api_base_url: str = "https://api.twilio.com"

    def auth_tokens(self) -> tuple[str, ...]:
        """The tokens a signature may verify with: the primary, then the secondary when set."""
        return auth_tokens(self.twilio_auth_token, self.twilio_auth_token_secondary)


def auth_tokens(primary: SecretStr, secondary: SecretStr | None) -> tuple[str, ...]:
    """Verification keys in order, for settings classes that hold the two tokens themselves (the
    streamer's). An empty secondary is no key: it would make every signature forgeable."""
    extra = secondary.get_secret_value() if secondary is not None else ""
    return (primary.get_secret_value(), extra) if extra else (primary.get_secret_value(),)


@cache
def load(cls: type[S]) -> S:
    """The process-wide settings of one kind, validated once (first use), then shared."""
    return cls.from_env()


def reset() -> None:
    """Forget loaded settings (tests that change the environment)."""
    load.cache_clear()
