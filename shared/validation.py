"""Turning pydantic's ValidationError into one line a person can act on.

Every tier reports invalid input the same way (problems joined with "; "), and only how one problem
is worded differs: a request body names the field path, settings name the environment variable,
infra names the context key. Callers pass that wording; the default is `path: message`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def located(error: ErrorDetails) -> str:
    """`field.path: message`; a problem with the whole input is located at `body`."""
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"


def message_only(error: ErrorDetails) -> str:
    """For validators whose messages already name what is wrong (e.g. a route key)."""
    return str(error["msg"])


def describe_errors(exc: ValidationError, describe: Callable[[ErrorDetails], str] = located) -> str:
    """All problems at once, so a caller can fix them in one go rather than one per attempt."""
    return "; ".join(describe(error) for error in exc.errors())


def decode_json(text: str | bytes) -> Any:
    """`json.loads`, with nesting deeper than the parser can follow (which raises RecursionError)
    reported as the JSONDecodeError (a ValueError) any other malformed text gets."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested deeper than the parser allows", "", 0) from None


def json_object(value: object, expected: str) -> Mapping[str, Any]:
    """A JSON object given as text (an environment variable, `-c key=…`) or already parsed (a
    cdk.json value); otherwise a ValueError saying `expected` (pydantic reports ValueErrors)."""
    if isinstance(value, str):
        try:
            value = decode_json(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be {expected}, not JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"must be {expected}")  # noqa: TRY004 - pydantic reports ValueErrors
    return value
