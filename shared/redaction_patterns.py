"""Configured redaction patterns (`TRANSCRIPT_REDACTION_PATTERNS`): checked once, time-bounded always.

A pattern with the textbook exponential-backtracking shape (an unbounded repetition of nothing but
variable repetitions: `(a+)+$`) is refused at configuration time (`nested_repetition`, at settings
load and at synth); every pattern runs under `PATTERN_TIMEOUT_SECONDS`, and one that runs out of
time redacts the whole segment under its kind (fail closed). Must keep: a pattern is compiled with
`regex` (what runs is what was checked; `re` has no timeout), its syntax is `re`'s (the static
check reads it with `re`'s parser), and refusals name the pattern.
Why: docs/data-model.md ("Redaction", configured patterns).
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from shared.validation import json_object

if TYPE_CHECKING:
    import regex

PATTERN_TIMEOUT_SECONDS = 0.05  # per pattern, per segment
_KIND_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT"}  # POSSESSIVE_REPEAT never backtracks into itself
_ATOMIC = {"ATOMIC_GROUP", "POSSESSIVE_REPEAT"}
_BOUNDED = 65535  # a repetition's maximum above this is re's MAXREPEAT: unbounded


class ConfiguredPattern:
    """One configured pattern, compiled; `sub` replaces within the time bound."""

    __slots__ = ("compiled", "expression", "name")

    def __init__(self, name: str, expression: str, compiled: regex.Pattern[str]) -> None:
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

    def search(self, text: str) -> bool:
        return self.compiled.search(text, timeout=PATTERN_TIMEOUT_SECONDS) is not None

    def sub(self, replace: Any, text: str) -> str:
        """`text` with every match replaced; raises TimeoutError past `PATTERN_TIMEOUT_SECONDS`."""
        result: str = self.compiled.sub(replace, text, timeout=PATTERN_TIMEOUT_SECONDS)
        return result


def parse_patterns(value: object) -> dict[str, ConfiguredPattern]:
    """`TRANSCRIPT_REDACTION_PATTERNS`: a JSON object (or a mapping) of name -> regular expression.
    Names become kinds upper-cased; a bad name, a pattern that does not compile, one that matches the
    empty string or one that can backtrack catastrophically is refused with a message naming it."""
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
        patterns[kind] = compile_pattern(name, expression)
    return patterns


def compile_pattern(name: str, expression: str) -> ConfiguredPattern:
    import regex  # only where patterns are configured (the streamer and the recordings Lambda)

    try:
        re.compile(expression)  # the syntax is `re`'s, as documented
        compiled = regex.compile(expression, flags=regex.VERSION0)
    except (re.error, regex.error) as exc:
        raise ValueError(f"pattern {name!r} is not a valid regular expression: {exc}") from None
    nested = nested_repetition(expression)
    if nested is not None:
        raise ValueError(
            f"pattern {name!r} has only repetitions of variable count inside {nested}: it can take "
            "exponential time on text that almost matches; write it without the nesting, or make the "
            "inner repetition possessive (a++) or atomic ((?>...))"
        )
    pattern = ConfiguredPattern(name.upper(), expression, compiled)
    try:
        empty = pattern.search("")
    except TimeoutError:  # pragma: no cover - an empty text cannot take long
        empty = False
    if empty:
        raise ValueError(f"pattern {name!r} matches the empty string; it would redact everywhere")
    return pattern


def nested_repetition(expression: str) -> str | None:
    """The offending repetition ("a group repeated 1 to ∞ times") when an unbounded repetition
    (`*`, `+`, `{n,}`) holds an alternative made only of repetitions of variable count, so that its
    iterations can share out the same text in exponentially many ways: `(a+)+`, `(a*)*`,
    `(\\s*\\w+)*`, `(?:x|y+)+`. None otherwise: `(?:\\.\\w+)+` has a fixed part in each iteration,
    `(a{1,3}){2,5}` is bounded, and possessive repetitions and atomic groups never backtrack."""
    parser: Any = importlib.import_module("re._parser")  # `re`'s own parser (3.11+), read-only use
    return _find(list(parser.parse(expression)))


def _find(items: list[Any]) -> str | None:
    for op, av in items:
        name = str(op)
        if name in _ATOMIC:
            continue
        if name in _REPEATS:
            low, high, body = av
            if high > _BOUNDED and _all_variable(list(body)):
                return f"a group repeated {low} or more times"
        for child in _children(av):
            found = _find(child)
            if found is not None:
                return found
    return None


def _all_variable(items: list[Any]) -> bool:
    """Whether this sequence is made only of repetitions of variable count (through groups)."""
    return bool(items) and all(_variable(op, av) for op, av in items)


def _variable(op: Any, av: Any) -> bool:
    name = str(op)
    if name in _REPEATS:
        return bool(av[0] != av[1])
    if name == "SUBPATTERN":
        return _all_variable(list(av[-1]))
    if name == "BRANCH":
        return any(_all_variable(list(branch)) for branch in av[1])
    return False


def _children(av: Any) -> list[list[Any]]:
    """The sub-patterns inside one node's arguments (groups, branches, repeats, assertions)."""
    found: list[list[Any]] = []
    stack = [av]
    while stack:
        value = stack.pop()
        if hasattr(value, "data"):  # a SubPattern
            found.append(list(value))
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found
