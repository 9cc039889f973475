"""A synthetic two-track call heard twice: live segments (stream time) and recording words.

The truth is a list of words in stream time. Live segments group them into utterances the way
Deepgram live finals do (start/end at the first/last word, a little timing noise, a few words
misrecognised, some segments lost in given windows); the recording hears the same words shifted by
`-offset` (it starts at answer, after the stream), with its own timing noise and misrecognitions.
Seeded, so every run builds the same call; tests/unit/recordings and bench/reconcile.py share it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from functions.recordings.words import TRACKS, Word
from shared.dal.keys import segment_key
from shared.dal.records import Segment

CALL_SID = "CA" + "5" * 32
STREAM_STARTED_AT = datetime(2026, 11, 26, 10, 0, 0, 250_000, tzinfo=UTC)
_SPEAKERS = {"inbound": "caller", "outbound": "callee"}


@dataclass
class SyntheticCall:
    live: list[Segment]
    words: list[Word]  # the recording's words, recording time, as Deepgram's batch API gives them
    truth: list[Word]  # every word said (stream time), same order and text as `words`
    dropped: list[Segment] = field(default_factory=list)  # live segments lost (the speech to fill)
    offset: float = 0.0
    stream_started_at: datetime = STREAM_STARTED_AT

    @property
    def recording_started_at(self) -> datetime:
        """As Twilio reports it: RFC 2822, whole seconds (truncated)."""
        exact = self.stream_started_at + timedelta(seconds=self.offset)
        return exact.replace(microsecond=0)


def _vocabulary(rng: random.Random, size: int = 600) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(size * 2)}
    return sorted(words)[:size]


def synthetic_call(
    *,
    seconds: float = 60.0,
    offset: float = 3.37,
    seed: int = 13,
    tracks: Sequence[str] = TRACKS,
    missing: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    timing_noise: float = 0.02,
    live_errors: float = 0.05,
    recording_errors: float = 0.03,
) -> SyntheticCall:
    """Words from `offset + 0.5` s to `seconds` on each track; live segments overlapping a
    `missing[track]` window are dropped (a reconnect, a lost final)."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf: a few words are everywhere
    live: list[Segment] = []
    dropped: list[Segment] = []
    truth: list[Word] = []
    words: list[Word] = []
    for track in tracks:
        t = offset + 0.5 + rng.uniform(0, 1.0)
        while t < seconds - 3:
            count = rng.randint(6, 20)
            said = rng.choices(vocabulary, weights, k=count)
            utterance: list[Word] = []
            for index, token in enumerate(said):
                duration = rng.uniform(0.08, 0.2)
                text = token.capitalize() if index == 0 else token
                if index == count - 1:
                    text += "."
                utterance.append(Word(track, round(t, 3), round(t + duration, 3), text, 0.99))
                t += duration + rng.uniform(0.01, 0.03)
            t += rng.uniform(0.2, 0.8)
            truth += utterance
            words += [
                _heard_by_recording(rng, word, offset, timing_noise, recording_errors, vocabulary)
                for word in utterance
            ]
            segment = _live_segment(rng, utterance, timing_noise, live_errors, vocabulary)
            lost = any(a < segment.end and segment.start < b for a, b in (missing or {}).get(track, ()))
            (dropped if lost else live).append(segment)
    return SyntheticCall(live=live, words=words, truth=truth, dropped=dropped, offset=offset)


def _heard_by_recording(
    rng: random.Random, word: Word, offset: float, noise: float, errors: float, vocabulary: list[str]
) -> Word:
    shift = rng.gauss(0, noise)
    text = rng.choice(vocabulary) if rng.random() < errors else word.text
    return Word(word.track, word.start - offset + shift, word.end - offset + shift, text, 0.95)


def _live_segment(
    rng: random.Random, utterance: list[Word], noise: float, errors: float, vocabulary: list[str]
) -> Segment:
    tokens = [rng.choice(vocabulary) if rng.random() < errors else word.text for word in utterance]
    start = round(utterance[0].start + rng.gauss(0, noise), 3)
    track = utterance[0].track
    return Segment(
        call_sid=CALL_SID,
        segment_key=segment_key(start, track),
        track=track,
        speaker=_SPEAKERS[track],
        text=" ".join(tokens),
        start=start,
        end=round(utterance[-1].end + rng.gauss(0, noise), 3),
        confidence=0.9,
        source="deepgram:nova-3",
    )
