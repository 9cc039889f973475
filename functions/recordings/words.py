"""Words as both transcripts are compared: the recording's, timed each, and the live segments' text.

The recording's words come from Deepgram's pre-recorded API (`deepgram_batch`), timed in seconds from
the start of the recording; live segments carry only text and a start/end in stream time. Both sides
are reduced to the same normalised tokens here, so "Friday," in one and "friday" in the other count
as the same word heard twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.redaction import TOKEN

INBOUND = "inbound"
OUTBOUND = "outbound"
TRACKS = (INBOUND, OUTBOUND)

_NOT_WORD = re.compile(r"[^\w']+")
# A redaction token (`[REDACTED CARD]`) is one token of a live segment, and one no recording word
# normalises to (brackets never survive `normalise`): it keeps its place, so its neighbours keep
# their times, but it matches nothing and casts no vote.
_PIECE = re.compile(rf"{TOKEN.pattern}|\S+")
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word of one track, timed in recording seconds (until aligned)."""

    track: str
    start: float
    end: float
    text: str  # as it should read in a transcript: Deepgram's punctuated form when there is one
    confidence: float | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


def normalise(token: str) -> str:
    """The comparable form of one token: lowercase, punctuation dropped (inner apostrophes kept)."""
    return _NOT_WORD.sub("", token.lower()).strip("'")


@dataclass(frozen=True, slots=True)
class TimedToken:
    """A normalised token of a live segment with the time it most likely had in the stream.

    `kind` says how good that time is: `start`/`end` are the segment's own boundaries (Deepgram live
    put them at its first word's start and last word's end, so they are as precise as word timings),
    `inner` is interpolated by character position and can be off by a few hundred milliseconds.
    """

    token: str
    time: float
    kind: str  # start | end | inner


def segment_tokens(text: str, start: float, end: float) -> list[TimedToken]:
    """The tokens of a live segment, each with an estimated stream time.

    Live segments keep no per-word timing, so an inner word's time is its character position's share
    of the segment's span: speech rate follows letters closely enough for a coarse vote, and the
    precise estimate comes from the boundary tokens. A one-token segment yields both boundaries.
    """
    pieces = [(match.start(), match.end(), _token(match.group())) for match in _PIECE.finditer(text)]
    pieces = [piece for piece in pieces if piece[2]]
    if not pieces:
        return []
    span = max(end - start, 0.0)
    length = max(pieces[-1][1], 1)
    tokens = [TimedToken(pieces[0][2], start, "start")]
    for first, last, token in pieces[1:-1]:
        tokens.append(TimedToken(token, start + span * (first + last) / 2 / length, "inner"))
    tokens.append(TimedToken(pieces[-1][2], end, "end"))
    return tokens


def _token(piece: str) -> str:
    return REDACTED if TOKEN.fullmatch(piece) else normalise(piece)


def word_time(word: Word, kind: str) -> float:
    """The time of `word` comparable with a live token of that kind (its start, end or middle)."""
    if kind == "start":
        return word.start
    if kind == "end":
        return word.end
    return (word.start + word.end) / 2
