"""Redaction of payment and identity numbers before any transcript text leaves AWS.

What is replaced (with `[REDACTED <KIND>]`), from digit runs of 8 to 19 digits written as numerals
(optionally grouped by spaces or dashes) or spoken as digit words ("four one one one ..."):

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
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_WORD = "(?:" + "|".join(_DIGIT_WORDS) + ")"

# Numerals with optional single space/dash separators; not part of a word, decimal, time, date or amount.
_NUMERAL_RUN = re.compile(r"(?<![\w$€£.,:/+])\d(?:[ \-]?\d)*(?![\w:/]|[.,]\d)")
_PLUS_RUN = re.compile(r"\+\d(?:[ \-]?\d)*")
_WORD_RUN = re.compile(rf"\b{_WORD}(?:[\s,\-]+{_WORD}){{7,}}\b", re.IGNORECASE)
_ONLY_DIGITS = re.compile(r"^[\s\-,.]*(?:(?:\d|" + _WORD + r")[\s\-,.]*)+$", re.IGNORECASE)

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
    """Replaces sensitive numbers and counts what it replaced, per kind."""

    counts: Counter[str] = field(default_factory=Counter)

    def _replace(self, kind: str) -> str:
        self.counts[kind] += 1
        return f"[REDACTED {kind}]"

    def redact(self, text: str) -> str:
        # International numbers written with a leading + are phone numbers; shield them first.
        shielded: list[str] = []

        def shield(match: re.Match[str]) -> str:
            shielded.append(match.group(0))
            return f"\x00{len(shielded) - 1}\x00"

        text = _PLUS_RUN.sub(shield, text)

        def numerals(match: re.Match[str]) -> str:
            raw = match.group(0)
            groups = tuple(len(part) for part in re.split(r"[ \-]", raw))
            kind = classify(re.sub(r"\D", "", raw), groups)
            return raw if kind is None else self._replace(kind)

        def words(match: re.Match[str]) -> str:
            digits = "".join(_DIGIT_WORDS[w.lower()] for w in re.findall(_WORD, match.group(0), re.I))
            kind = classify(digits, None)
            return match.group(0) if kind is None else self._replace(kind)

        text = _NUMERAL_RUN.sub(numerals, text)
        text = _WORD_RUN.sub(words, text)
        return re.sub(r"\x00(\d+)\x00", lambda m: shielded[int(m.group(1))], text)

    def redact_lines(self, speakers: list[str], texts: list[str]) -> list[str]:
        """Redact each line; runs of one speaker's digits-only lines are first judged as one number."""
        out: list[str | None] = [None] * len(texts)
        index = 0
        while index < len(texts):
            end = index
            while end < len(texts) and speakers[end] == speakers[index] and _ONLY_DIGITS.match(texts[end]):
                end += 1
            if end - index >= 2:
                kind = classify("".join(_digits_of(texts[i]) for i in range(index, end)), None)
                if kind is not None:
                    token = self._replace(kind)
                    for i in range(index, end):
                        out[i] = token
            index = max(end, index + 1)
        return [self.redact(text) if done is None else done for text, done in zip(texts, out, strict=True)]


def _digits_of(text: str) -> str:
    found = re.findall(r"\d|" + _WORD, text, re.IGNORECASE)
    return "".join(_DIGIT_WORDS.get(token.lower(), token) for token in found)
