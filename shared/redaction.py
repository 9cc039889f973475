"""The one redaction engine: card numbers (and the expiry and security code read after them), SSNs,
routing and account numbers, and configured patterns, however they are spoken or split.

A track's segments are read as one stream (`TrackRedactor`, one per track; `Redactor` holds the
rules, patterns and counts): segments in, in order; the same segments out, possibly later, with
`[REDACTED <KIND>]` in place of what is private. Digits come from `shared.spoken_digits`, runs are
judged by `shared.redaction_rules`, configured patterns (`shared.redaction_patterns`) apply first.
Must keep: the live, recording and summary paths get the same answer for the same segments (one
engine, the same `HOLD_*` bounds); counts say what was found, never the values. The long form,
with holding and what is not redacted: docs/data-model.md ("Redaction"). ~370 lines: a track's
reading, holding and releasing are one state machine, and the settings stay here for every tier.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from pydantic import Field, field_validator

from shared.redaction_patterns import ConfiguredPattern as ConfiguredPattern
from shared.redaction_patterns import parse_patterns as parse_patterns
from shared.redaction_rules import (
    CARD,
    EXPIRY,
    FULL,
    MAX_CARD,
    SECURITY_CODE,
    Digit,
    Item,
    Rules,
    Run,
    Zone,
    judge,
)
from shared.settings import EnvGroup
from shared.spoken_digits import Kind, Token, month_before, tokens, words_in

# Holding (per track): a run still open is held until its end, or until one of these is passed; it is
# then judged as it stands (`_force`), its last CONTEXT_DIGITS carried into what follows.
HOLD_SEGMENTS = 32
HOLD_DIGITS = 64
HOLD_SECONDS = 30.0  # stream time from the first held segment's start
CONTEXT_DIGITS = MAX_CARD - 1  # no card can reach further back than this over a forced release

T = TypeVar("T")


def token(kind: str) -> str:
    """What replaces a redacted stretch of text: `[REDACTED <KIND>]`."""
    return f"[REDACTED {kind}]"


@dataclass(slots=True)
class _Piece(Generic[T]):
    item: T
    text: str
    fixed: bool  # context only: never changed, never given back (a live segment, for recordings)
    start: float | None
    spans: list[tuple[int, int, str]] = field(default_factory=list)


@dataclass
class Redactor:
    """The rules, the configured patterns, and the counts per kind of everything redacted through it
    (one per transcript, or per summary)."""

    counts: Counter[str] = field(default_factory=Counter)
    patterns: Mapping[str, ConfiguredPattern] = field(default_factory=dict)  # kind -> pattern
    rules: Rules = FULL

    def stream(self) -> TrackRedactor[Any]:
        """A new track stream counting into this redactor."""
        return TrackRedactor(self)

    def redact(self, text: str) -> str:
        """One text on its own (a summary field, a log value)."""
        return self.redact_track([text])[0]

    def redact_track(
        self,
        texts: Sequence[str],
        starts: Sequence[float | None] | None = None,
        fixed: Sequence[bool] | None = None,
    ) -> list[str]:
        """One track's segments in time order, read as one stream; `fixed` ones are context (read,
        never changed) and come back unchanged."""
        return self.redact_lines([""] * len(texts), texts, starts, fixed)

    def redact_lines(
        self,
        streams: Sequence[str],
        texts: Sequence[str],
        starts: Sequence[float | None] | None = None,
        fixed: Sequence[bool] | None = None,
    ) -> list[str]:
        """Segments of several streams (tracks, speakers) in time order, each stream read on its own
        as the streamer reads it: a segment's start also lets go what another stream has held longer
        than HOLD_SECONDS. `fixed` ones are context (read, never changed) and come back unchanged."""
        out = list(texts)
        readers: dict[str, TrackRedactor[int]] = {}
        for index, text in enumerate(texts):
            at = starts[index] if starts is not None else None
            reader = readers.get(streams[index])
            if reader is None:
                reader = readers[streams[index]] = TrackRedactor(self)
            done = (
                [] if at is None else [d for r in readers.values() if r is not reader for d in r.expire(at)]
            )
            done += reader.push(
                index, text, start=at, fixed=bool(fixed[index]) if fixed is not None else False
            )
            for i, redacted in done:
                out[i] = redacted
        for reader in readers.values():
            for i, redacted in reader.finish():
                out[i] = redacted
        return out

    def apply_patterns(self, text: str) -> str:
        """The configured patterns, each replaced by its token; a token put in is never matched by a
        later pattern; a pattern out of time redacts the whole text (fail closed)."""
        if not self.patterns:
            return text
        shielded: list[str] = []

        def shield(kind: str) -> Callable[[Any], str]:
            def replace_match(match: Any) -> str:
                self.counts[kind] += 1
                shielded.append(token(kind))
                return f"\ue000{chr(_PLACEHOLDER_BASE + len(shielded) - 1)}\ue001"

            return replace_match

        for kind, pattern in self.patterns.items():
            try:
                text = pattern.sub(shield(kind), text)
            except TimeoutError:
                self.counts[kind] += 1
                return token(kind)
        if not shielded:
            return text
        return _PLACEHOLDER.sub(lambda m: shielded[ord(m.group(1)) - _PLACEHOLDER_BASE], text)


_PLACEHOLDER_BASE = 0xF0000  # private-use characters: no digit, word or pattern rule matches them
_PLACEHOLDER = re.compile("\ue000([\U000f0000-\U000ffffd])\ue001")
TOKEN = re.compile(r"\[REDACTED [A-Z][A-Z0-9_]*\]")  # a token as stored, for readers that skip them


class TrackRedactor(Generic[T]):
    """One track's stream of segments: `push` each in order, `finish` at the end of the track. Each
    returns the segments that may now be stored (item and redacted text), in order; a segment is
    held while a run of digits it ends with may go on (`held`). `expire(now)` releases what has been
    held longer than `HOLD_SECONDS` of stream time (another track's clock may say so)."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held: list[_Piece[T]] = []
        self._base = 0  # the number of `_held[0]`
        self._run: Run | None = None
        self._zone: Zone | None = None
        self._month: tuple[int, int, int] | None = None  # a month's name in a zone, before digits
        self._mark = ""
        self._sep = ""
        self._strong = False
        self._words = 0

    @property
    def held(self) -> int:
        return len(self._held)

    def push(
        self, item: T, text: str, *, start: float | None = None, fixed: bool = False
    ) -> list[tuple[T, str]]:
        if not fixed:
            text = self._redactor.apply_patterns(text)
        number = self._base + len(self._held)
        self._held.append(_Piece(item, text, fixed, start))
        self._mark = ""
        if self._run is not None:
            self._sep += "\n"  # a segment boundary: a group boundary within a run
            self._strong = True
        for found in tokens(text):
            self._read(found, number, text)
        run_digits = len(self._run.digits) if self._run is not None else 0
        if len(self._held) > HOLD_SEGMENTS or run_digits > HOLD_DIGITS or self._too_old(start):
            return self._force()
        return self._release()

    def expire(self, now: float) -> list[tuple[T, str]]:
        return self._force() if self._held and self._too_old(now) else []

    def finish(self) -> list[tuple[T, str]]:
        self._close()
        self._month = None
        self._zone = None
        return self._release()

    # ---- reading ------------------------------------------------------------------------------

    def _read(self, found: Token, number: int, text: str) -> None:
        kind = found.kind
        if kind is Kind.DIGITS:
            self._digits(found, number)
        elif kind is Kind.JOIN:
            self._sep += text[found.start : found.end]
            self._strong = self._strong or found.strong
        elif kind is Kind.BREAK:
            self._close()
            self._mark, self._month = found.text, None
            if self._zone is not None:  # words count only towards a card's follow-up window
                self._tick(words_in(text, found.start, found.end))
            if self._zone is not None:
                month = month_before(text, found.start, found.end)
                self._month = None if month is None else (number, *month)
        else:
            self._close()
            self._mark, self._month = "", None
            self._token(found.text)

    def _digits(self, found: Token, number: int) -> None:
        run = self._run
        if run is None:
            run = self._run = Run([], self._mark, self._month)
            self._sep, self._strong = "", False
        last = run.digits[-1] if run.digits else None
        group = last is None or found.numeral or not last.spoken or self._strong
        self._words += 1
        for i, char in enumerate(found.digits):
            start, end = (found.start + i, found.start + i + 1) if found.numeral else (found.start, found.end)
            sep = self._sep if i == 0 else ""
            spoken = not found.numeral
            run.digits.append(
                Digit(int(char), number, start, end, group and i == 0, sep, spoken, self._words)
            )
        self._sep, self._strong, self._month = "", False, None

    def _token(self, kind: str) -> None:
        """A token already in the text: a card's opens its zone; an expiry or code fills it."""
        zone = self._zone
        if kind == CARD:
            self._zone = Zone()
        elif zone is not None and kind == EXPIRY:
            zone.expiry = True
        elif zone is not None and kind == SECURITY_CODE:
            zone.code = True
        else:
            self._tick(1)
        if self._zone is not None and self._zone.expiry and self._zone.code:
            self._zone = None

    def _tick(self, words: int) -> None:
        if self._zone is not None:
            self._zone.words -= words
            if self._zone.words <= 0:
                self._zone = None

    def _close(self, forced: bool = False) -> None:
        run, self._run = self._run, None
        self._sep, self._strong = "", False
        if run is None or not run.digits:
            return
        items, self._zone, month = judge(run, self._zone, self._redactor.rules, forced)
        self._apply(run, items, month)
        if forced:  # the run may go on: its tail stays as context (released, never changed again)
            tail = [replace(d, piece=None) for d in run.digits[-CONTEXT_DIGITS:]]
            self._run = Run(tail, run.after if len(tail) == len(run.digits) else "", None)

    def _apply(self, run: Run, items: list[Item], month: bool) -> None:
        for item in items:
            digits = run.digits[item.first : item.last]
            live = [d for d in digits if d.piece is not None and not self._piece(d.piece).fixed]
            if item.counts and live and not any(d.counted for d in digits):
                self._redactor.counts[item.kind] += 1
                for d in digits:
                    d.counted = True
            spans = [
                (number, within[0].start, within[-1].end)
                for number, same in itertools.groupby(live, key=lambda d: d.piece)
                for within in [list(same)]
            ]
            if month and item.kind == EXPIRY and run.month is not None and spans:
                month = False  # "April 2027": the month's name goes with the year (only joiners between)
                number, start, _ = run.month
                if spans[0][0] == number:
                    spans[0] = (number, start, spans[0][2])
                elif not self._piece(number).fixed:
                    spans.insert(0, run.month)
            for number, start, end in spans:
                assert number is not None
                self._piece(number).spans.append((start, end, item.kind))

    def _piece(self, number: int) -> _Piece[T]:
        return self._held[number - self._base]

    # ---- releasing ----------------------------------------------------------------------------

    def _too_old(self, now: float | None) -> bool:
        first = self._held[0].start if self._held else None
        return now is not None and first is not None and now - first > HOLD_SECONDS

    def _force(self) -> list[tuple[T, str]]:
        self._close(forced=True)
        self._month = None
        return self._release()

    def _release(self) -> list[tuple[T, str]]:
        needed = [d.piece for d in self._run.digits if d.piece is not None] if self._run else []
        if self._month is not None:
            needed.append(self._month[0])
        keep_from = min(needed) if needed else self._base + len(self._held)
        out: list[tuple[T, str]] = []
        while self._held and self._base < keep_from:
            piece = self._held.pop(0)
            self._base += 1
            if not piece.fixed:
                out.append((piece.item, _render(piece.text, piece.spans)))
        return out


def _render(text: str, spans: list[tuple[int, int, str]]) -> str:
    if not spans:
        return text
    merged: list[list[Any]] = []
    for start, end, kind in sorted(spans):
        if merged and (start < merged[-1][1] or (start == merged[-1][1] and kind == merged[-1][2])):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, kind])
    out, at = [], 0
    for start, end, kind in merged:
        out += [text[at:start], token(kind)]
        at = end
    out.append(text[at:])
    return "".join(out)


# ---- settings ---------------------------------------------------------------------------------------


class RedactionSettings(EnvGroup):
    """Redaction of transcript segments before they are written (the streamer and the recordings
    Lambda): `TRANSCRIPT_REDACTION` (default true) and `TRANSCRIPT_REDACTION_PATTERNS`."""

    transcript_redaction: bool = True
    transcript_redaction_patterns: dict[str, ConfiguredPattern] = Field(default_factory=dict)

    @field_validator("transcript_redaction_patterns", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> dict[str, ConfiguredPattern]:
        return parse_patterns(value)

    def redactor(self) -> Redactor | None:
        """A new redactor for one transcript, or None when redaction is off."""
        if not self.transcript_redaction:
            return None
        return Redactor(patterns=self.transcript_redaction_patterns)
