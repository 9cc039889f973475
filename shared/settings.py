"""Settings as pydantic models, read from an environment by whoever builds a service.

A tier declares its settings as a subclass of `EnvSettings` (field `foo_bar` from `FOO_BAR`),
composed of `EnvGroup`s read with the group's prefix (`DeepgramSettings.model` from `DEEPGRAM_MODEL`).
A value comes from the plain variable (empty is unset), else in AWS the Secrets Manager secret whose
ARN the variable named by `secret_sources` holds (read once per ARN), else the field's default.
Must keep: `from_env(environ)` reads the mapping given (or `os.environ`) and caches nothing; a
missing required value raises `ConfigError` naming the variable, never an empty-string default.
Not pydantic-settings: docs/configuration.md ("Why not pydantic-settings") has the measured reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from shared import aws
from shared.errors import ConfigError
from shared.validation import describe_errors

S = TypeVar("S", bound="EnvSettings")


class SecretSource(BaseModel):
    """Where a secret field comes from in AWS: the env var holding the ARN, and the JSON key inside."""

    model_config = ConfigDict(frozen=True)

    arn_env: str
    json_key: str | None = None
    # An optional value (the secondary auth token, set only during a rotation) may be absent from
    # the secret; a plain-string secret holds the one required value, never an optional one.
    optional: bool = False


class EnvGroup(BaseModel):
    """One concern's settings (Deepgram, limits, agent, …) inside a tier's `EnvSettings`.

    Field `foo` is read from `{env_prefix}FOO`, so a tier can hand each part of its code the one small
    model it needs while operators keep the flat environment names they already set."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    env_prefix: ClassVar[str] = ""
    # field name -> where to find it in Secrets Manager when the plain env var is unset
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {}

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"{cls.env_prefix}{field}".upper()


class EnvSettings(EnvGroup):
    """Base for per-tier settings: env var `FIELD_NAME` (upper case) feeds field `field_name`; a field
    whose type is an `EnvGroup` is read field by field with that group's prefix."""

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
        """Settings from `environ` (default `os.environ`) and the secrets it names; a `ConfigError`
        names every missing or invalid variable."""
        env = os.environ if environ is None else environ
        try:
            return cls.model_validate(_read(cls, env, _Secrets()))
        except ValidationError as exc:
            raise ConfigError(_describe(cls, exc)) from exc


def _group(annotation: Any) -> type[EnvGroup] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, EnvGroup) else None


def _read(model: type[EnvGroup], env: Mapping[str, str], secrets: _Secrets) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        group = _group(field.annotation)
        if group is not None:
            values[name] = _read(group, env, secrets)  # always present, so its missing fields are reported
            continue
        raw = env.get(model.env_name(name))
        if raw is None or raw == "":
            source = model.secret_sources.get(name)
            if source is not None and env.get(source.arn_env):
                raw = secret_value(env[source.arn_env], secrets.read(env[source.arn_env]), source)
        if raw is not None and raw != "":
            values[name] = raw
    return values


class _Secrets:
    """The secrets one settings build reads: each ARN once, however many fields it feeds."""

    def __init__(self) -> None:
        self._read: dict[str, str] = {}

    def read(self, arn: str) -> str:
        if arn not in self._read:
            self._read[arn] = fetch_secret(arn)
        return self._read[arn]


def _locate(cls: type[EnvGroup], loc: tuple[int | str, ...]) -> tuple[str | None, SecretSource | None]:
    """The environment variable (and its secret source) an error is about; None for a check that
    spans several variables (its message names them)."""
    model = cls
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None, None
        group = _group(field.annotation)
        if group is None:
            return model.env_name(str(part)), model.secret_sources.get(str(part))
        model = group
    return None, None


def _describe(cls: type[EnvSettings], exc: ValidationError) -> str:
    def problem(error: ErrorDetails) -> str:
        env_name, source = _locate(cls, error["loc"])
        if env_name is None:
            return str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            hint = f" (or {source.arn_env} naming a Secrets Manager secret)" if source else ""
            return f"missing required environment variable {env_name}{hint}"
        return f"invalid environment variable {env_name}: {error['msg']}"

    return f"{cls.__name__}: " + describe_errors(exc, problem)


def fetch_secret(arn: str) -> str:
    """The secret's string, from Secrets Manager (`ConfigError` naming the ARN when unreadable)."""
    try:
        secret: str = aws.secretsmanager().get_secret_value(SecretId=arn)["SecretString"]
    except Exception as exc:  # botocore raises many types; all mean the same thing here
        raise ConfigError(f"cannot read secret {arn}: {exc}") from exc
    return secret


def secret_value(arn: str, secret: str, source: SecretSource) -> str | None:
    """One value of a secret (None: an optional key the secret does not have)."""
    if source.json_key is None:
        return secret
    try:
        document = json.loads(secret)
    except json.JSONDecodeError:
        return None if source.optional else secret  # a plain-string secret holds just the required value
    if not isinstance(document, dict) or source.json_key not in document:
        if source.optional and isinstance(document, dict):
            return None
        raise ConfigError(f"secret {arn} has no key {source.json_key!r}")
    value = document[source.json_key]
    return None if source.optional and value in (None, "") else str(value)


class TableSettings(EnvSettings):
    """The product's two tables (contract names): every tier reads or writes them."""

    calls_table: str
    transcripts_table: str


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
