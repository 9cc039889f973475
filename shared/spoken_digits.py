"""Spoken and written digits as a short token stream: how the redaction engine reads a segment.

A text becomes `Token`s, each with the span it was read from (the engine replaces by span): DIGITS
(numerals not glued to letters, digit words, teens, tens, "double"/"triple"), REDACTED (a token
already in the text), JOIN (what may sit inside one number: spaces, `, . / -`, "dash", "slash",
fillers; `strong` when it is a group boundary) and BREAK (anything else: it ends a number).
A text with no digit and no word that can spell one is a single BREAK (most speech, cheaply).
Must keep: spans cover exactly the characters read, and a numeral's digits are one character each.
Nothing here decides what is private: shared/redaction.py does. What is read as a digit, in full:
docs/data-model.md ("Redaction", "How a number is read").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5",
    "sixty": "6", "seventy": "7", "eighty": "8", "ninety": "9",
}  # fmt: skip
REPEATS = {"double": 2, "triple": 3}
FILLERS = ("uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm")
JOIN_WORDS = ("dash", "slash", "hyphen")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
)  # fmt: skip
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2212"
_PUNCT = f",./{_DASHES}"


def _any(words: Iterable[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_DIGIT = _any(DIGIT_WORDS)
_SPOKEN = frozenset([*DIGIT_WORDS, *TEENS, *TENS])  # a word that can spell a digit
_FIRST = "".join(sorted({word[0] for word in (*_SPOKEN, *REPEATS)}))
# Read on the lower-cased text (a match is a few times faster than with IGNORECASE); the case-blind
# twin serves the rare text whose lower case has another length (its spans would not map back).
_UNIT_SOURCE = (
    rf"(?=[\[\d{_FIRST}])(?:"
    r"\[redacted (?P<kind>[a-z][a-z0-9_]*)\]"
    r"|(?<![^\W_])(?P<numeral>\d+)(?![^\W_])"  # not glued to a letter, nor cut from a number
    r"|\b(?:"
    rf"(?P<repeat>{_any(REPEATS)})[ -](?P<repeated>{_DIGIT}|\d)(?!\w)"
    rf"|(?P<tens>{_any(TENS)})(?:[ -](?P<unit>{_any(w for w, d in DIGIT_WORDS.items() if d != '0')}))?"
    rf"|(?P<word>{_DIGIT}|{_any(TEENS)})"
    r")\b)"
)
_UNIT = re.compile(_UNIT_SOURCE)
_NOT_LETTERS = re.compile(r"[^a-z]+")
_ANY_DECIMAL = re.compile(r"\d|\[")
_JOINS = re.compile(rf"(?:\s|[{_PUNCT}]|(?i:\b(?:{_any(FILLERS)}|{_any(JOIN_WORDS)})\b))*")
_STRONG = re.compile(rf"[{_PUNCT}]|(?i:\b(?:{_any(JOIN_WORDS)})\b)")
_WORD = re.compile(r"[^\W\d_]+")
_MONTH_BEFORE = rf"(?i:\b(?:{_any(MONTHS)})\b)(?=[\s{_PUNCT}]*\Z)"


@functools.cache
def _compiled(source: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern only some texts need, compiled on first use (every Lambda imports this module)."""
    return re.compile(source, flags)


class Kind(Enum):
    DIGITS = "digits"
    REDACTED = "redacted"
    JOIN = "join"
    BREAK = "break"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    start: int
    end: int
    digits: str = ""  # DIGITS: the digits spelt, "0"-"9"
    numeral: bool = False  # DIGITS written as digits (one character per digit)
    strong: bool = False  # JOIN: punctuation or a word in it
    text: str = ""  # REDACTED: the kind; BREAK: the mark right before what follows ("$", "+"), or ""


def maybe_digits(text: str) -> bool:
    """False when `text` has no digit character, no token and no word that can spell a digit."""
    lowered = text.lower()
    return bool(_ANY_DECIMAL.search(lowered)) or not _SPOKEN.isdisjoint(_NOT_LETTERS.split(lowered))


def tokens(text: str) -> list[Token]:
    """`text` as tokens, in order; together their spans cover the text."""
    lowered = text.lower()
    if len(lowered) != len(text):
        units = _compiled(_UNIT_SOURCE, re.IGNORECASE).finditer(text)
    elif not _ANY_DECIMAL.search(lowered) and _SPOKEN.isdisjoint(_NOT_LETTERS.split(lowered)):
        return [_gap(text, 0, len(text))] if text else []  # plain speech: no digit at all
    else:
        units = _UNIT.finditer(lowered)
    out: list[Token] = []
    at = 0
    for match in units:
        start, end = match.span()
        unit = _unit(text, match, start, end)
        if unit is None:
            continue
        if start > at:
            out.append(_gap(text, at, start))
        out.append(unit)
        at = end
    if at < len(text):
        out.append(_gap(text, at, len(text)))
    return out


def words_in(text: str, start: int, end: int) -> int:
    """How many words text[start:end] holds (a BREAK's, for the card's follow-up window)."""
    return len(_WORD.findall(text, start, end))


def month_before(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of a month's name that ends text[start:end] but for separators, if any."""
    found = _compiled(_MONTH_BEFORE).search(text[start:end])
    return (start + found.start(), start + found.end()) if found else None


def _unit(text: str, match: re.Match[str], start: int, end: int) -> Token | None:
    kind, numeral, repeat, repeated, tens, unit, word = match.group(
        "kind", "numeral", "repeat", "repeated", "tens", "unit", "word"
    )
    if kind is not None:
        original = text[start:end]  # a token is upper-case; "[redacted card]" is words
        return Token(Kind.REDACTED, start, end, text=original[10:-1]) if original.isupper() else None
    if numeral is not None:
        numeral = text[start:end]
        digits = numeral if numeral.isascii() else "".join(str(unicodedata.decimal(c)) for c in numeral)
        return Token(Kind.DIGITS, start, end, digits=digits, numeral=True)
    if repeat is not None:
        digit = str(unicodedata.decimal(repeated)) if repeated.isdigit() else DIGIT_WORDS[repeated.lower()]
        return Token(Kind.DIGITS, start, end, digits=digit * REPEATS[repeat.lower()])
    if tens is not None:
        ones = DIGIT_WORDS[unit.lower()] if unit is not None else "0"
        return Token(Kind.DIGITS, start, end, digits=TENS[tens.lower()] + ones)
    lowered = word.lower()
    return Token(Kind.DIGITS, start, end, digits=DIGIT_WORDS.get(lowered) or TEENS[lowered])


def _gap(text: str, start: int, end: int) -> Token:
    gap = text[start:end]
    if gap.isspace():
        return Token(Kind.JOIN, start, end)
    if _JOINS.fullmatch(gap):
        return Token(Kind.JOIN, start, end, strong=_STRONG.search(gap) is not None)
    last = gap.rstrip()[-1:]
    mark = last if last and not last.isalnum() and last not in _PUNCT and last != "_" else ""
    return Token(Kind.BREAK, start, end, text=mark)
