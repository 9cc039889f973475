"""Where the recording sits in stream time: `stream_time = recording_time + offset`.

The timestamps give a prior (Twilio's `RecordingStartTime` has whole seconds only); the words both
transcripts heard pin it down. The estimate is a vote: every pair of equal normalised words on the
same track whose time difference lies in the prior's window is one vote; the densest `±AGREE`
interval wins if it stands well above the floor frequent words make, and the answer is the median of
its precise (anchor) votes. What a change must keep: deterministic for the same input, O(n log n),
and `Alignment.method` says which path gave the offset. Why and measured errors: docs/recordings.md,
"Alignment".
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from functions.recordings.words import Word, normalise, segment_tokens, word_time
from shared.dal.records import Segment

# RecordingStartTime has whole seconds (≤ 1 s, truncated or rounded) plus the streamer's own clock
# and the time from its `start` message to stream time 0 (well under 0.5 s).
PRIOR_HALF_WIDTH = 1.5
AGREE = 0.25  # votes within this of each other agree on the offset
WIDE_AGREE = 0.5  # the coarse search, where inner words' interpolated times dominate
REFINE_HALF_WIDTH = 1.0  # the window around the coarse answer that the fine search votes in
SEARCH_PAD = 0.5  # how far an interpolated inner word may sit from its true time
MIN_MATCHES = 4  # fewer agreeing votes than this is chance, not an alignment
SIGNIFICANCE = 3.0  # the winning interval must hold this many times the votes chance would put there
MIN_ANCHORS = 1  # one precise vote beats any number of interpolated ones (measured: docs/recordings.md)
WIDE_MAX_PAIRS = 16  # a token used in the coarse search pairs at most this many times

WORDS, TIMESTAMPS, NONE = "words", "timestamps", "none"


@dataclass(frozen=True, slots=True)
class Alignment:
    """The offset and how it was found: `words` (votes agreed), `timestamps` (the prior alone) or
    `none` (neither: offset 0, so filled words may be misplaced and the caller should say so)."""

    offset: float
    method: str
    matches: int = 0
    prior: float | None = None

    def to_stream(self, recording_seconds: float) -> float:
        return recording_seconds + self.offset


def timestamp_prior(
    recording_started_at: datetime | None, stream_started_at: datetime | None
) -> float | None:
    """The offset the two wall-clock starts imply (both timezone-aware), or None without both."""
    if recording_started_at is None or stream_started_at is None:
        return None
    return (recording_started_at - stream_started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class _Vote:
    diff: float
    anchored: bool


class _LiveIndex:
    """Live tokens by (track, token), each list sorted by estimated stream time, for range lookups."""

    def __init__(self, segments: Iterable[Segment]) -> None:
        entries: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
        for segment in segments:
            if segment.from_recording:  # an earlier reconciliation's output is no evidence
                continue
            for token in segment_tokens(segment.text, segment.start, segment.end):
                entries[(segment.track, token.token)].append((token.time, token.kind))
        self.entries = {key: sorted(values) for key, values in entries.items()}
        self.times = {key: [time for time, _ in values] for key, values in self.entries.items()}
        self.latest = max((values[-1][0] for values in self.entries.values()), default=0.0)

    def votes(
        self, words: Iterable[Word], low: float, high: float, keys: set[tuple[str, str]] | None
    ) -> list[_Vote]:
        """Every pair of equal words whose offset lies in [low, high] (give or take SEARCH_PAD)."""
        votes: list[_Vote] = []
        for word in words:
            key = (word.track, normalise(word.text))
            if key not in self.entries or (keys is not None and key not in keys):
                continue
            times, entries = self.times[key], self.entries[key]
            middle = (word.start + word.end) / 2
            first = bisect.bisect_left(times, middle + low - SEARCH_PAD)
            last = bisect.bisect_right(times, middle + high + SEARCH_PAD)
            for time, kind in entries[first:last]:
                diff = time - word_time(word, kind)
                if low - SEARCH_PAD <= diff <= high + SEARCH_PAD:
                    votes.append(_Vote(diff, kind != "inner"))
        return votes


def _densest(votes: Sequence[_Vote], agree: float, centre: float) -> tuple[float, int]:
    """The median of the largest set of votes spanning at most 2*agree, and its size. Ties go to the
    set nearest `centre` (the prior), then the earliest, so the answer never depends on input order."""
    diffs = sorted(vote.diff for vote in votes)
    best: tuple[int, float, float] | None = None  # (-count, distance to centre, median)
    left = 0
    for right, value in enumerate(diffs):
        while value - diffs[left] > 2 * agree:
            left += 1
        middle = (left + right) / 2  # the slice is sorted: its median is its middle element(s)
        median = (diffs[int(middle)] + diffs[int(middle + 0.5)]) / 2
        candidate = (left - right - 1, abs(median - centre), median)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return centre, 0
    return best[2], -best[0]


def _refine(votes: Sequence[_Vote], around: float, agree: float) -> tuple[float, int]:
    agreeing = [vote for vote in votes if abs(vote.diff - around) <= agree]
    anchored = [vote.diff for vote in agreeing if vote.anchored]
    chosen = anchored if len(anchored) >= MIN_ANCHORS else [vote.diff for vote in agreeing]
    return (statistics.median(chosen) if chosen else around), len(agreeing)


def _vote_in(
    index: _LiveIndex,
    words: Sequence[Word],
    low: float,
    high: float,
    agree: float,
    keys: set[tuple[str, str]] | None,
) -> tuple[float, int]:
    votes = index.votes(words, low, high, keys)
    peak, count = _densest(votes, agree, (low + high) / 2)
    # Frequent words ("the", "yeah") pair up at any offset; the true one must stand out of that floor.
    width = high - low + 2 * SEARCH_PAD
    floor = (len(votes) - count) * 2 * agree / max(width - 2 * agree, 2 * agree)
    if count < max(MIN_MATCHES, SIGNIFICANCE * floor):
        return peak, 0
    offset, matches = _refine(votes, peak, agree)
    return min(max(offset, low), high), matches


def _distinctive(words: Sequence[Word], index: _LiveIndex) -> set[tuple[str, str]]:
    """Tokens rare enough in both transcripts that pairing every occurrence stays cheap and telling."""
    heard = Counter((word.track, normalise(word.text)) for word in words)
    return {
        key
        for key, count in heard.items()
        if key in index.entries and count * len(index.entries[key]) <= WIDE_MAX_PAIRS
    }


def estimate_offset(
    words: Sequence[Word],
    live: Iterable[Segment],
    *,
    recording_started_at: datetime | None,
    stream_started_at: datetime | None,
) -> Alignment:
    """The offset that maps the recording's words onto the live segments' stream time.

    With both start times, the words may only move the answer within the prior's window (the
    timestamps' error is bounded; a vote outside it is a coincidence). Without a stream start, any
    offset the call's length allows is searched. Too few agreeing words leaves the prior, or 0.
    """
    index = _LiveIndex(live)
    prior = timestamp_prior(recording_started_at, stream_started_at)
    if prior is not None:
        low, high = prior - PRIOR_HALF_WIDTH, prior + PRIOR_HALF_WIDTH
        offset, matches = _vote_in(index, words, low, high, AGREE, None)
        if matches >= MIN_MATCHES:
            return Alignment(offset, WORDS, matches, prior)
        return Alignment(prior, TIMESTAMPS, 0, prior)
    if words:
        latest_word = max(word.end for word in words)
        coarse, count = _vote_in(
            index, words, -latest_word - 1.0, index.latest + 1.0, WIDE_AGREE, _distinctive(words, index)
        )
        if count >= MIN_MATCHES:
            low, high = coarse - REFINE_HALF_WIDTH, coarse + REFINE_HALF_WIDTH
            offset, matches = _vote_in(index, words, low, high, AGREE, None)
            if matches >= MIN_MATCHES:
                return Alignment(offset, WORDS, matches, None)
    return Alignment(0.0, NONE, 0, None)
