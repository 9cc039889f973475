"""Configured redaction patterns (`TRANSCRIPT_REDACTION_PATTERNS`): parsed and compiled once.

Must keep: refusals name the pattern; a kind is the name upper-cased.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from shared.validation import json_object

_KIND_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class ConfiguredPattern:
    """One configured pattern, compiled."""

    __slots__ = ("compiled", "expression", "name")

    def __init__(self, name: str, expression: str, compiled: re.Pattern[str]) -> None:
        self.name = name
        self.expression = expression
        self.compiled = compiled

    def __repr__(self) -> str:
        return f"ConfiguredPattern({self.name!r}, {self.expression!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfiguredPattern):
            return NotImplemented
        return (self.name, self.expression) == (other.name, other.expression)

    def __hash__(self) -> int:
        return hash((self.name, self.expression))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.is_instance_schema(cls)  # settings hold it as parsed (`parse_patterns`)

    def sub(self, replace: Any, text: str) -> str:
        return self.compiled.sub(replace, text)


def parse_patterns(value: object) -> dict[str, ConfiguredPattern]:
    """`TRANSCRIPT_REDACTION_PATTERNS`: a JSON object (or a mapping) of name -> regular expression.
    Names become kinds upper-cased; a bad name, a pattern that does not compile or one that matches
    the empty string is refused with a message naming it."""
    if value is None or value == "":
        return {}
    value = json_object(value, "a JSON object of name -> regex")
    patterns: dict[str, ConfiguredPattern] = {}
    for name, expression in value.items():
        if not isinstance(name, str) or not _KIND_NAME.fullmatch(name):
            raise ValueError(f"pattern name {name!r} must be a letter then letters, digits or _ (at most 40)")
        kind = name.upper()
        if kind in patterns:
            raise ValueError(f"pattern name {name!r} is given twice (names are upper-cased)")
        if isinstance(expression, ConfiguredPattern):
            patterns[kind] = expression
            continue
        if isinstance(expression, re.Pattern):
            expression = expression.pattern
        if not isinstance(expression, str) or not expression:
            raise ValueError(f"pattern {name!r} must be a non-empty string")
        try:
            compiled = re.compile(expression)
        except re.error as exc:
            raise ValueError(f"pattern {name!r} is not a valid regular expression: {exc}") from None
        if compiled.search("") is not None:
            raise ValueError(f"pattern {name!r} matches the empty string; it would redact everywhere")
        patterns[kind] = ConfiguredPattern(kind, expression, compiled)
    return patterns
