"""What in one run of a track's digits is private: the rules the redaction engine applies.

A run is the digits read as one number (built by shared.redaction), each mapped back to the
characters it came from. `judge` decides, for one run, which digits are CARD (every 13-19 digit
window passing Luhn), EXPIRY / SECURITY_CODE after a card (in its run, and in later runs within the
card's `Zone`), and, of the rest, SSN, ROUTING or ACCOUNT (stretches of MIN_DIGITS or more, except
numerals written as a date, phone number, amount and the like). docs/data-model.md ("Redaction") is
the long form. Must keep: pure (no state beyond the run and zone handed in); a digit taken is never
given back; every digit of every passing window is taken (tests/unit/test_redaction_properties.py).
~350 lines: one run's judgement is one decision, read best in one place.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CARD, EXPIRY, SECURITY_CODE = "CARD", "EXPIRY", "SECURITY_CODE"
SSN, ROUTING, ACCOUNT = "SSN", "ROUTING", "ACCOUNT"
KINDS = (CARD, EXPIRY, SECURITY_CODE, SSN, ROUTING, ACCOUNT)  # the built-in kinds

MIN_CARD, MAX_CARD = 13, 19
MIN_DIGITS = 8  # the shortest other number redacted (SSN, routing, account)
FOLLOW_WORDS = 12  # words (not digits) allowed between a card, its expiry and its security code
FOLLOW_DIGITS = 10  # an expiry with a 4-digit year and a 4-digit code
CLEAR_PREFIX = 6  # a forced release redacts an unjudged tail longer than this (PCI DSS: first six)

_LENGTH_ORDER = {16: 0, 15: 1, 19: 2, 14: 3, 13: 4, 18: 5, 17: 6}  # card lengths, most common first
_NETWORK_FIRST_DIGITS = frozenset({2, 3, 4, 5, 6})  # Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover 6
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled by Luhn, digits summed
_DATES = {(4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4)}
_PHONES = {(3, 3, 4), (1, 3, 3, 4)}
_CURRENCY = frozenset("$€£¥₹")
_EXPIRY_LENGTHS = (4, 6, 3)
_CODE_LENGTHS = (3, 4)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        total += _DOUBLED[int(char)] if index % 2 else int(char)
    return total % 10 == 0


def aba_valid(digits: str) -> bool:
    if len(digits) != 9 or digits == "0" * 9:
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def luhn_windows(values: Sequence[int]) -> list[tuple[int, int]]:
    """Every (start, end) of `values` 13-19 long that passes Luhn, in O(n) with prefix sums."""
    n = len(values)
    if n < MIN_CARD:
        return []
    # plain[p][i] / doubled[p][i]: the sum over positions j < i with j % 2 == p, as is / doubled
    plain = [[0] * (n + 1), [0] * (n + 1)]
    doubled = [[0] * (n + 1), [0] * (n + 1)]
    for j, value in enumerate(values):
        for p in (0, 1):
            plain[p][j + 1] = plain[p][j] + (value if j % 2 == p else 0)
            doubled[p][j + 1] = doubled[p][j] + (_DOUBLED[value] if j % 2 == p else 0)
    found = []
    for end in range(MIN_CARD, n + 1):
        p = (end - 1) % 2  # the last digit, and every second one before it, is not doubled
        for length in range(MIN_CARD, min(MAX_CARD, end) + 1):
            start = end - length
            total = plain[p][end] - plain[p][start] + doubled[1 - p][end] - doubled[1 - p][start]
            if total % 10 == 0:
                found.append((start, end))
    return found


@dataclass(frozen=True)
class Rules:
    """`ungrouped`: redact SSN/ROUTING/ACCOUNT from digits alone (off for logs, whose ids and
    timestamps are digits: there only cards, what follows them, and SSNs grouped 3-2-4)."""

    ungrouped: bool = True


FULL, LOGS = Rules(), Rules(ungrouped=False)


@dataclass(slots=True)
class Digit:
    value: int
    piece: int | None  # the segment it is in (numbered per stream); None: released (context only)
    start: int  # its characters in that segment
    end: int
    group: bool  # a group starts here (after a separator, or at a numeral)
    sep: str  # what separates it from the group before (when `group`)
    spoken: bool
    word: int  # which token of the stream it was read from (a numeral or a word)
    counted: bool = False  # part of something counted already (context over a forced release)


@dataclass(slots=True)
class Run:
    digits: list[Digit]
    after: str  # the mark just before it ("$", "+"), or ""
    month: tuple[int, int, int] | None  # a month's name just before it, in a card's zone


@dataclass(slots=True)
class Zone:
    """What may still follow a card: `words` left before it closes; found already."""

    words: int = FOLLOW_WORDS
    expiry: bool = False
    code: bool = False


@dataclass(slots=True)
class Item:
    kind: str
    first: int  # digits [first, last) of the run
    last: int
    counts: bool = True  # False: digits of a card counted as another item


def judge(run: Run, zone: Zone | None, rules: Rules, forced: bool) -> tuple[list[Item], Zone | None, bool]:
    """What in `run` is private: the items (kind and digits), the zone after it, and whether the month
    name before it belongs to an expiry. `forced`: the run may go on (a hold bound was reached), so
    an unjudged tail longer than CLEAR_PREFIX is redacted too."""
    digits = run.digits
    if len(digits) < MIN_DIGITS and zone is None and not forced:
        return [], None, False  # no card, nothing after one, too short for any other kind: most runs
    values = [d.value for d in digits]
    text = "".join(map(str, values))
    n = len(values)
    bounds = {i for i, d in enumerate(digits) if d.group} | {0, n}
    windows = luhn_windows(values)
    taken: list[Item | None] = [None] * n
    items: list[Item] = []

    def take(kind: str, first: int, last: int, counts: bool = True) -> None:
        item = Item(kind, first, last, counts)
        items.append(item)
        for i in range(first, last):
            taken[i] = item

    cards = _cards(values, windows, bounds)
    month = False
    head = cards[0][0] if cards else n  # the digits before the run's first card
    if zone is not None and head > 0:  # what may follow a card said before this run
        found = card_details(
            text[:head], {b for b in bounds if b <= head}, not zone.expiry, not zone.code, exact=True,
            month=run.month is not None,
        )  # fmt: skip
        if found:
            at = 0
            for kind, length in found:
                take(kind, at, at + length)
                at += length
            zone.words = FOLLOW_WORDS
            zone.expiry = zone.expiry or any(kind == EXPIRY for kind, _ in found)
            zone.code = zone.code or any(kind == SECURITY_CODE for kind, _ in found)
            month = run.month is not None and found[0][0] == EXPIRY
    for index, (first, last) in enumerate(cards):
        take(CARD, first, last)
        stop = cards[index + 1][0] if index + 1 < len(cards) else n
        rest = text[last:stop]
        found = card_details(rest, {b - last for b in bounds if last < b <= stop}, True, True, exact=False)
        at = last
        for kind, length in found or []:
            take(kind, at, at + length)
            at += length
        kinds = {kind for kind, _ in found or []}
        zone = Zone(expiry=EXPIRY in kinds, code=SECURITY_CODE in kinds)
    _whole_words(digits, taken, take)
    for first, last in _untaken(taken):
        decided = classify(run, first, last, rules)
        if decided is None and forced and last == n and last - first > CLEAR_PREFIX:
            decided = ACCOUNT  # the run may go on into a card: its unjudged tail is not let through
        if decided is not None:
            take(decided, first, last)
    for first, last in windows:  # every passing window is redacted, whatever was counted
        for i in range(first, last):
            if taken[i] is None:
                take(CARD, i, i + 1, counts=False)
    _whole_words(digits, taken, take)
    if zone is not None and zone.expiry and zone.code:
        zone = None
    items.sort(key=lambda item: item.first)
    return _merged(items), zone, month


def _cards(values: Sequence[int], windows: list[tuple[int, int]], bounds: set[int]) -> list[tuple[int, int]]:
    """The windows counted as cards: best placed first (on group boundaries, then starting as the
    big networks' numbers do, then a common card length, then earliest), none overlapping another;
    in run order. Which window is counted never changes what is redacted (all of them are)."""

    def rank(window: tuple[int, int]) -> tuple[int, bool, int, int]:
        first, last = window
        aligned = (first in bounds) + (last in bounds)
        return (-aligned, values[first] not in _NETWORK_FIRST_DIGITS, _LENGTH_ORDER[last - first], first)

    chosen: list[tuple[int, int]] = []
    for first, last in sorted(windows, key=rank):
        if all(last <= a or first >= b for a, b in chosen):
            chosen.append((first, last))
    return sorted(chosen)


def _whole_words(digits: list[Digit], taken: list[Item | None], take: Callable[..., None]) -> None:
    """A numeral partly taken is taken whole ("4111111111111112": its Luhn window is its last 13
    digits; the three before it go with them, uncounted)."""
    for order in (range(1, len(digits)), range(len(digits) - 2, -1, -1)):
        for i in order:
            j = i - 1 if order.step == 1 else i + 1
            if taken[i] is None and taken[j] is not None and digits[i].word == digits[j].word:
                item = taken[j]
                assert item is not None
                take(item.kind, i, i + 1, counts=False)


def _untaken(taken: Sequence[Item | None]) -> list[tuple[int, int]]:
    stretches, first = [], None
    for i, item in enumerate([*taken, Item("", 0, 0)]):
        if item is None and first is None:
            first = i
        elif item is not None and first is not None:
            stretches.append((first, i))
            first = None
    return stretches


def _merged(items: list[Item]) -> list[Item]:
    """Single-digit card extensions next to each other become one."""
    out: list[Item] = []
    for item in items:
        last = out[-1] if out else None
        if (
            last
            and not item.counts
            and not last.counts
            and last.kind == item.kind
            and last.last == item.first
        ):
            last.last = item.last
        else:
            out.append(item)
    return out


def card_details(
    digits: str, bounds: set[int], expiry: bool, code: bool, *, exact: bool, month: bool = False
) -> list[tuple[str, int]] | None:
    """How `digits` (all of them when `exact`, else a prefix) read as what follows a card: a list of
    (EXPIRY or SECURITY_CODE, length), the best-placed reading; None when none fits. `expiry`/`code`:
    still wanted. Not `exact` (the card's own run) and at most FOLLOW_DIGITS long: always taken."""
    n = len(digits)
    if n == 0:
        return None
    if month and expiry and exact and n in (2, 4):
        return [(EXPIRY, n)]  # "April 27", "April 2027"
    shapes: list[tuple[str, ...]] = []
    if expiry:
        shapes.append((EXPIRY,))
    if code:
        shapes.append((SECURITY_CODE,))
    if expiry and code:
        shapes += [(EXPIRY, SECURITY_CODE), (SECURITY_CODE, EXPIRY)]
    best: tuple[tuple[bool, int, int, bool], list[tuple[str, int]]] | None = None
    for shape in shapes:
        choices = [_EXPIRY_LENGTHS if kind == EXPIRY else _CODE_LENGTHS for kind in shape]
        for lengths in itertools.product(*choices):
            total = sum(lengths)
            if total > n or (exact and total != n):
                continue
            at, aligned, fits = 0, 0, True
            for kind, length in zip(shape, lengths, strict=True):
                if kind == EXPIRY and not _is_expiry(digits[at : at + length], at + 1 in bounds):
                    fits = False
                    break
                at += length
                aligned += at in bounds or at == n
            if fits:
                score = (at in bounds or at == n, aligned, total, shape[0] == EXPIRY)
                if best is None or score > best[0]:
                    best = (score, list(zip(shape, lengths, strict=True)))
    if best is not None:
        return best[1]
    if exact or n > FOLLOW_DIGITS:
        return None
    if n <= 2:
        return [(EXPIRY, n)]
    if n <= 4:
        return [(SECURITY_CODE, n)]
    return [(EXPIRY, n - 4), (SECURITY_CODE, 4)]


def _is_expiry(digits: str, split_after_month: bool) -> bool:
    if len(digits) == 4:
        return 1 <= int(digits[:2]) <= 12
    if len(digits) == 6:
        return 1 <= int(digits[:2]) <= 12 and digits[2:4] == "20"
    return len(digits) == 3 and digits[0] != "0" and split_after_month  # "4/27"


def classify(run: Run, first: int, last: int, rules: Rules) -> str | None:
    """The kind of digits [first, last) of `run` (none of them a card's), or None to keep them."""
    digits = run.digits[first:last]
    count = len(digits)
    if count < MIN_DIGITS:
        return None
    groups: list[int] = []
    seps: list[str] = []
    for i, digit in enumerate(digits):
        if i == 0 or digit.group:
            groups.append(0)
            if i:
                seps.append(digit.sep)
        groups[-1] += 1
    shape = tuple(groups)
    if shape == (3, 2, 4):
        return SSN
    if not rules.ungrouped:
        return None
    after = run.after if first == 0 else ""
    if after == "+" or after in _CURRENCY:
        return None  # an international phone number, an amount
    if not any(d.spoken for d in digits) and _kept_shape(shape, seps):
        return None
    if count == 9:
        return ROUTING if aba_valid("".join(str(d.value) for d in digits)) else SSN
    return ACCOUNT


def _kept_shape(groups: tuple[int, ...], seps: list[str]) -> bool:
    """Numerals written as a date, a phone number, thousands, a decimal or a list of short numbers."""
    if (sum(groups) == 8 and groups in _DATES) or groups in _PHONES:
        return True
    if len(groups) == 2 and seps == ["."]:
        return True  # a decimal: 3.14159265
    if 1 <= groups[0] <= 3 and len(groups) > 1:
        body, tail = (groups[1:-1], seps[-1]) if seps[-1] == "." and groups[-1] == 2 else (groups[1:], "")
        if all(g == 3 for g in body) and all(s == "," for s in seps[: len(body)]) and tail in ("", "."):
            return True  # thousands: 1,234,567 or 1,234,567.00
    return len(groups) >= 3 and max(groups) <= 3 and all("," in s for s in seps)  # 10, 20, 30
