"""Deepgram's address, key and transcription options: one owner for live and pre-recorded requests.

The streamer (live `/v1/listen` WebSocket, `streamer/config.py`) and the recordings Lambda
(pre-recorded `POST /v1/listen`, `functions/recordings/`) must hear a call alike: same model, same
language, same formatting, same redaction. Both read them from the same `DEEPGRAM_*` variables
through `DeepgramOptions` and put them on the wire with `transcription_params()`; each adds only
what its own API needs (the streamer: encoding, interim results, endpointing; the Lambda:
`multichannel`). A call's route may choose another language or model (`CALL_ROUTES`, carried as
stream parameters and stored on the call): `for_call` applies that choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, field_validator

from shared.patterns import STT_NAME_PATTERN
from shared.settings import DEEPGRAM_SECRET_SOURCES, EnvGroup, SecretSource

_STT_NAME = re.compile(STT_NAME_PATTERN)
_HTTP_SCHEME = {"wss": "https", "ws": "http"}


class DeepgramOptions(EnvGroup):
    """`DEEPGRAM_URL`, `DEEPGRAM_API_KEY` and the options every transcription request carries."""

    env_prefix: ClassVar[str] = "DEEPGRAM_"
    secret_sources: ClassVar[Mapping[str, SecretSource]] = {
        "api_key": DEEPGRAM_SECRET_SOURCES["deepgram_api_key"],
    }

    api_key: SecretStr
    url: str = "wss://api.deepgram.com"
    model: str = "nova-3"
    language: str = "en"
    smart_format: bool = True
    punctuate: bool = True
    redact: tuple[str, ...] = ()
    keyterm: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://")):
            raise ValueError("must be a ws:// or wss:// base URL")
        return value

    @field_validator("redact", "keyterm", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return split_list(value) if isinstance(value, str) else value

    def transcription_params(self) -> list[tuple[str, str]]:
        """What Deepgram hears the call with, as query parameters (live and pre-recorded alike)."""
        params: list[tuple[str, str]] = [
            ("model", self.model),
            ("language", self.language),
            ("smart_format", flag(self.smart_format)),
            ("punctuate", flag(self.punctuate)),
        ]
        params += [("redact", value) for value in self.redact]
        params += [("keyterm", value) for value in self.keyterm]
        return params

    def http_base_url(self) -> str:
        """`DEEPGRAM_URL`'s host with `https` (`http` when it is `ws://`): the REST API's base."""
        parts = urlsplit(self.url)
        return urlunsplit((_HTTP_SCHEME[parts.scheme], parts.netloc, parts.path.rstrip("/"), "", ""))

    def for_call(self, *, language: str | None, model: str | None) -> Self:
        """These options with a call's own language and model (its route's choice) where given.

        The values come from stream parameters or the call record; anything that is not a plain
        Deepgram name is ignored rather than sent (the deployment's default is used instead)."""
        update = {
            name: value
            for name, value in (("language", language), ("model", model))
            if value and _STT_NAME.fullmatch(value)
        }
        return self.model_copy(update=update) if update else self


def flag(value: bool) -> str:
    return "true" if value else "false"


def split_list(value: str) -> list[str]:
    """A comma-separated setting as its values (blanks dropped)."""
    return [part.strip() for part in value.split(",") if part.strip()]
