"""Spoken and written digits as one token stream: how the redaction engine reads a segment.

A text becomes `Token`s, each with the span of the text it was read from:

- DIGITS: a numeral ("4111"; any script's decimal digits, fullwidth too), a digit word ("four",
  "zero", "oh", "o", "nought"), a teen ("eleven" is 11), a tens word with an optional unit ("twenty
  seven" is 27, "twenty" 20), or "double"/"triple" and the one digit it repeats ("double one" is 11);
- JOIN: what may sit between the groups of one number: whitespace, `, . / -` and dashes, the words
  "dash", "slash", "hyphen", and fillers ("uh", "um", "er"). `strong` when it is punctuation or a
  word: a group boundary even between digit words ("four one, one one" is two groups);
- WORD: any other word, and words mixing letters and digits ("5th", "ORD123": never digits);
  `month` when it names a month;
- MARK: any other single character ("$", "+", ":", "#"): it ends a number;
- REDACTED: a redaction token already in the text (`[REDACTED CARD]`), with its kind.

Must keep: a span covers exactly the characters its token was read from (redaction replaces by
span), and a numeral's digits are one character each. Nothing here decides what is private:
shared/redaction.py does.
"""

from __future__ import annotations

import re
import unicodedata
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
FILLERS = frozenset({"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm"})
JOIN_WORDS = frozenset({"dash", "slash", "hyphen"})
MONTHS = frozenset(
    {
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec",
    }
)  # fmt: skip
JOIN_CHARS = frozenset(",./-\u2010\u2011\u2012\u2013\u2014\u2212")  # , . / - and the dashes

# Any sign of a digit: a decimal character, or a word that can spell one. A text without any is
# read as words alone, without tokenising it (most segments).
ANY_DIGIT = re.compile(
    r"\d|\b(?:" + "|".join([*DIGIT_WORDS, *TEENS, *TENS, *REPEATS]) + r")\b|\[REDACTED ", re.IGNORECASE
)
_SCAN = re.compile(r"(\[REDACTED ([A-Z][A-Z0-9_]*)\])|(\w+)|(\s+)|(.)", re.DOTALL)


class Kind(Enum):
    DIGITS = "digits"
    JOIN = "join"
    WORD = "word"
    MARK = "mark"
    REDACTED = "redacted"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    start: int
    end: int
    digits: str = ""  # DIGITS: the digits spelt, "0"-"9"
    numeral: bool = False  # DIGITS written as digits (one character per digit)
    strong: bool = False  # JOIN: punctuation or a word, a group boundary even between digit words
    month: bool = False  # WORD: a month's name
    text: str = ""  # MARK: the character; TOKEN: the redaction kind


def tokens(text: str) -> list[Token]:
    """`text` as tokens, in order; together their spans cover the text."""
    raw = list(_raw(text))
    out: list[Token] = []
    index = 0
    while index < len(raw):
        token, word = raw[index]
        if word in REPEATS or word in TENS:
            merged = _merge(text, raw, index)
            if merged is not None:
                out.append(merged)
                index += 3
                continue
            if word in TENS:
                token = Token(Kind.DIGITS, token.start, token.end, digits=TENS[word] + "0")
        out.append(token)
        index += 1
    return out


def _raw(text: str) -> list[tuple[Token, str]]:
    """One token per word, space run or character; a repeat or tens word is still a WORD here, with
    its lower-cased word beside it for `_merge`."""
    found: list[tuple[Token, str]] = []
    for match in _SCAN.finditer(text):
        start, end = match.span()
        redacted, kind, chunk, space, char = match.groups()
        if redacted is not None:
            found.append((Token(Kind.REDACTED, start, end, text=kind), ""))
        elif space is not None:
            found.append((Token(Kind.JOIN, start, end), ""))
        elif char is not None:
            if char in JOIN_CHARS:
                found.append((Token(Kind.JOIN, start, end, strong=True), ""))
            else:
                found.append((Token(Kind.MARK, start, end, text=char), ""))
        else:
            found.append(_chunk(chunk, start, end))
    return found


def _chunk(chunk: str, start: int, end: int) -> tuple[Token, str]:
    if chunk.isdecimal():
        digits = "".join(str(unicodedata.decimal(c)) for c in chunk)
        return Token(Kind.DIGITS, start, end, digits=digits, numeral=True), ""
    word = chunk.lower()
    if word in DIGIT_WORDS:
        return Token(Kind.DIGITS, start, end, digits=DIGIT_WORDS[word]), word
    if word in TEENS:
        return Token(Kind.DIGITS, start, end, digits=TEENS[word]), word
    if word in FILLERS:
        return Token(Kind.JOIN, start, end), word
    if word in JOIN_WORDS:
        return Token(Kind.JOIN, start, end, strong=True), word
    return Token(Kind.WORD, start, end, month=word in MONTHS), word


def _merge(text: str, raw: list[tuple[Token, str]], index: int) -> Token | None:
    """ "double one" (11), "triple 0" (000), "twenty seven" / "twenty-seven" (27): the word at `index`,
    one space or hyphen, and one digit; None when what follows is not that."""
    if index + 2 >= len(raw):
        return None
    first, word = raw[index]
    between, _ = raw[index + 1]
    unit, _ = raw[index + 2]
    if text[between.start : between.end] not in (" ", "-"):
        return None
    if unit.kind is not Kind.DIGITS or len(unit.digits) != 1:
        return None
    if word in REPEATS:
        digits = unit.digits * REPEATS[word]
    elif unit.digits != "0" and not unit.numeral:
        digits = TENS[word] + unit.digits
    else:
        return None
    return Token(Kind.DIGITS, first.start, unit.end, digits=digits)
