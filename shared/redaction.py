"""Redaction of payment and identity numbers before any transcript text leaves AWS.

What is replaced (with `[REDACTED <KIND>]`), from digit runs of 8 to 19 digits written as numerals
(optionally grouped by spaces or dashes) or spoken as digit words ("four one one one ...", with
"oh" for zero and "double"/"triple" repeating the next digit, as in "four double one oh"):

- CARD: 13-19 digits passing the Luhn check (payment card numbers).
- SSN: 9 digits grouped 3-2-4, or 9 ungrouped digits that are not a valid ABA routing number.
- ROUTING: 9 ungrouped digits passing the ABA routing-number checksum.
- ACCOUNT: any other run of 8-19 digits (bank account numbers, IBAN-like runs, card numbers a
  mis-recognised digit broke the Luhn check of).

What is kept, because summaries need it and it identifies no account: times (10:30), dates
(2024-05-01, 05/01/2024), amounts ($1,250.00), decimals, numbers under 8 digits, and phone numbers
written in phone grouping (415 555 1234, 1-800-555-0100, +44 20 7946 0958).

A number read out over several segments ("4111" … "1111" … ) is caught too: consecutive segments of
one speaker that hold nothing but digits are judged as one run.

Configured patterns (`TRANSCRIPT_REDACTION_PATTERNS`, a JSON object of name -> regular expression)
are replaced first, each with `[REDACTED <NAME>]` (the name upper-cased is the kind). A replacement
is never looked at again, so no later rule re-redacts or miscounts a token.

Used twice: the streamer and the recordings Lambda redact every segment before it is written
(`TRANSCRIPT_REDACTION`, on by default; `RedactionSettings`), and the summaries Lambda redacts the
transcript again before it reaches the model (`SUMMARY_REDACTION`), which then finds only what
write-time redaction did not take out (nothing, when both are on with the same rules).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from shared.settings import EnvGroup
from shared.validation import json_object

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_WORD = "(?:" + "|".join(_DIGIT_WORDS) + ")"
_REPEATS = {"double": 2, "triple": 3}
# One spoken unit: a digit word, or "double"/"triple" and the digit (word or numeral) it repeats.
_UNIT = rf"(?:(?:{'|'.join(_REPEATS)})[\s\-]+(?:{_WORD}|\d(?!\d))|{_WORD})"

# Numerals with optional single space/dash separators; not part of a word, decimal, time, date or amount.
_NUMERAL_RUN = re.compile(r"(?<![\w$€£.,:/+])\d(?:[ \-]?\d)*(?![\w:/]|[.,]\d)")
_PLUS_RUN = re.compile(r"\+\d(?:[ \-]?\d)*")
# 4+ units: four "double"s already make 8 digits; `classify` judges the digit count.
_WORD_RUN = re.compile(rf"\b{_UNIT}(?:[\s,\-]+{_UNIT}){{3,}}\b", re.IGNORECASE)
_ONLY_DIGITS = re.compile(r"^[\s\-,.]*(?:(?:" + _UNIT + r"|\d)[\s\-,.]*)+$", re.IGNORECASE)
_DIGIT_TOKENS = re.compile(rf"(?:{'|'.join(_REPEATS)})[\s\-]+(?:{_WORD}|\d)|\d|{_WORD}", re.IGNORECASE)

MIN_DIGITS = 8
MAX_DIGITS = 19


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def aba_valid(digits: str) -> bool:
    if len(digits) != 9 or digits == "0" * 9:
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def classify(digits: str, groups: tuple[int, ...] | None) -> str | None:
    """The kind of sensitive number `digits` is, or None to keep it. `groups`: sizes as written."""
    count = len(digits)
    if count < MIN_DIGITS or count > MAX_DIGITS:
        return None
    if groups is not None and _is_date(groups) and count == 8:
        return None
    if groups is not None and _is_phone(groups):
        return None
    if count >= 13 and luhn_valid(digits):
        return "CARD"
    if count == 9:
        if groups == (3, 2, 4):
            return "SSN"
        return "ROUTING" if aba_valid(digits) else "SSN"
    return "ACCOUNT"


def _is_date(groups: tuple[int, ...]) -> bool:
    return groups in {(4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4)}


def _is_phone(groups: tuple[int, ...]) -> bool:
    return groups in {(3, 3, 4), (1, 3, 3, 4)}


@dataclass
class Redactor:
    """Replaces sensitive numbers (and configured patterns) and counts what it replaced, per kind.

    One instance per transcript: `counts` are the totals of everything it redacted so far."""

    counts: Counter[str] = field(default_factory=Counter)
    patterns: Mapping[str, re.Pattern[str]] = field(default_factory=dict)  # kind -> pattern

    def _replace(self, kind: str) -> str:
        self.counts[kind] += 1
        return token(kind)

    def _configured(self, shield: Callable[[str], str], kind: str, match: re.Match[str]) -> str:
        return shield(self._replace(kind))

    def redact(self, text: str) -> str:
        # What must not be looked at again (a token already put in, an international phone number)
        # is shielded behind a placeholder with no digit or word character, and put back at the end.
        shielded: list[str] = []

        def shield(value: str) -> str:
            shielded.append(value)
            return f"\ue000{chr(_PLACEHOLDER_BASE + len(shielded) - 1)}\ue001"

        for kind, pattern in self.patterns.items():
            text = pattern.sub(functools.partial(self._configured, shield, kind), text)

        # International numbers written with a leading + are phone numbers; shield them first.
        text = _PLUS_RUN.sub(lambda match: shield(match.group(0)), text)

        def numerals(match: re.Match[str]) -> str:
            raw = match.group(0)
            groups = tuple(len(part) for part in re.split(r"[ \-]", raw))
            kind = classify(re.sub(r"\D", "", raw), groups)
            return raw if kind is None else self._replace(kind)

        def words(match: re.Match[str]) -> str:
            kind = classify(_digits_of(match.group(0)), None)
            return match.group(0) if kind is None else self._replace(kind)

        text = _NUMERAL_RUN.sub(numerals, text)
        text = _WORD_RUN.sub(words, text)
        if not shielded:
            return text
        return _PLACEHOLDER.sub(lambda m: shielded[ord(m.group(1)) - _PLACEHOLDER_BASE], text)

    def redact_lines(self, speakers: list[str], texts: list[str]) -> list[str]:
        """Redact each line; runs of one speaker's digits-only lines are first judged as one number."""
        out: list[str | None] = [None] * len(texts)
        index = 0
        while index < len(texts):
            end = index
            while end < len(texts) and speakers[end] == speakers[index] and only_digits(texts[end]):
                end += 1
            if end - index >= 2:
                kind = classify("".join(_digits_of(texts[i]) for i in range(index, end)), None)
                if kind is not None:
                    replaced = self._replace(kind)
                    for i in range(index, end):
                        out[i] = replaced
            index = max(end, index + 1)
        return [self.redact(text) if done is None else done for text, done in zip(texts, out, strict=True)]


def token(kind: str) -> str:
    """What replaces a redacted stretch of text: `[REDACTED <KIND>]`."""
    return f"[REDACTED {kind}]"


# Placeholders for shielded text: private-use characters, so no digit, word or redaction rule matches.
_PLACEHOLDER_BASE = 0xF0000
_PLACEHOLDER = re.compile("\ue000([\U000f0000-\U000ffffd])\ue001")
TOKEN = re.compile(r"\[REDACTED [A-Z][A-Z0-9_]*\]")  # a token as stored, for readers that skip them


def only_digits(text: str) -> bool:
    """True when `text` holds nothing but digits (numerals or digit words) and separators: a piece of
    a number read out over several segments."""
    return _ONLY_DIGITS.match(text) is not None


def digit_count(text: str) -> int:
    return len(_digits_of(text))


def _digits_of(text: str) -> str:
    """The digits `text` spells, numerals and words alike ("double five" is 55)."""
    digits: list[str] = []
    for found in _DIGIT_TOKENS.findall(text):
        *repeat, unit = found.lower().replace("-", " ").split()
        digit = _DIGIT_WORDS.get(unit, unit)
        digits.append(digit * (_REPEATS[repeat[0]] if repeat else 1))
    return "".join(digits)


# ---- settings ---------------------------------------------------------------------------------------

_KIND_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


def parse_patterns(value: object) -> dict[str, re.Pattern[str]]:
    """`TRANSCRIPT_REDACTION_PATTERNS`: a JSON object (or a mapping) of name -> regular expression.
    Names become kinds upper-cased; a bad name, a pattern that does not compile or one that matches
    the empty string is refused with a message naming it."""
    if value is None or value == "":
        return {}
    value = json_object(value, "a JSON object of name -> regex")
    patterns: dict[str, re.Pattern[str]] = {}
    for name, expression in value.items():
        if not isinstance(name, str) or not _KIND_NAME.fullmatch(name):
            raise ValueError(f"pattern name {name!r} must be a letter then letters, digits or _ (at most 40)")
        kind = name.upper()
        if kind in patterns:
            raise ValueError(f"pattern name {name!r} is given twice (names are upper-cased)")
        if isinstance(expression, re.Pattern):
            compiled = expression
        elif isinstance(expression, str) and expression:
            try:
                compiled = re.compile(expression)
            except re.error as exc:
                raise ValueError(f"pattern {name!r} is not a valid regular expression: {exc}") from None
        else:
            raise ValueError(f"pattern {name!r} must be a non-empty string")
        if compiled.search("") is not None:
            raise ValueError(f"pattern {name!r} matches the empty string; it would redact everywhere")
        patterns[kind] = compiled
    return patterns


class RedactionSettings(EnvGroup):
    """Redaction of transcript segments before they are written (the streamer and the recordings
    Lambda): `TRANSCRIPT_REDACTION` (default true) and `TRANSCRIPT_REDACTION_PATTERNS`."""

    transcript_redaction: bool = True
    transcript_redaction_patterns: dict[str, re.Pattern[str]] = Field(default_factory=dict)

    @field_validator("transcript_redaction_patterns", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> dict[str, re.Pattern[str]]:
        return parse_patterns(value)

    def redactor(self) -> Redactor | None:
        """A new redactor for one transcript, or None when redaction is off."""
        if not self.transcript_redaction:
            return None
        return Redactor(patterns=self.transcript_redaction_patterns)
