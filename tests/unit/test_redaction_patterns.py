"""Configured redaction patterns cannot stall redaction: the textbook catastrophic shapes are refused
when the configuration is read, and every pattern runs with a time bound, failing closed."""

from __future__ import annotations

import pytest
from pydantic import Field

from shared.errors import ConfigError
from shared.redaction import RedactionSettings, Redactor, parse_patterns
from shared.redaction_patterns import nested_repetition
from shared.settings import EnvSettings


class Settings(EnvSettings):
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)


@pytest.mark.parametrize("expression", [r"(a+)+$", r"(a*)*b", r"(\s*\w+)*$", r"(?:x|y+)+z", r"((a{1,3}))*$"])
def test_catastrophic_patterns_are_refused_when_the_configuration_is_read(expression: str) -> None:
    raw = '{"slow": "' + expression.replace("\\", "\\\\") + '"}'
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"TRANSCRIPT_REDACTION_PATTERNS": raw})
    message = str(error.value)
    assert "TRANSCRIPT_REDACTION_PATTERNS" in message
    assert "pattern 'slow' has only repetitions of variable count" in message
    assert "exponential time" in message


@pytest.mark.parametrize(
    "expression",
    [
        r"\bM-\d{6}\b",
        r"(?i)\bpin \d{4}\b",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",  # an IBAN
        r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",  # an e-mail address: a fixed "." in each repetition
        r"(?:ab)+",
        r"(a++)+$",  # possessive: never backtracks
        r"(?>a+)+$",  # atomic
    ],
)
def test_ordinary_patterns_are_accepted(expression: str) -> None:
    assert nested_repetition(expression) is None
    assert list(parse_patterns({"ok": expression})) == ["OK"]


def test_a_pattern_that_runs_out_of_time_redacts_the_whole_segment() -> None:
    # passes the static check, yet backtracks exponentially on "aaa…!" (both branches match "a")
    redactor = Redactor(patterns=parse_patterns({"slow": r"(?:a|a)+$", "order": r"ORD-\d+"}))
    assert redactor.redact("a" * 40 + "! my card is 4111 1111 1111 1111") == "[REDACTED SLOW]"
    assert redactor.counts == {"SLOW": 1}
    # the same pattern on ordinary text is quick, and the others still apply
    assert redactor.redact("order ORD-12 for aaa") == "order [REDACTED ORDER] for [REDACTED SLOW]"
