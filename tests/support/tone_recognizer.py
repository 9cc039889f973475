"""Recordings the Deepgram stand-in "hears" as given words: one tone per call and track.

The pre-recorded API of `callscribe_local.deepgram_server.DeepgramStandIn` transcribes what its
recogniser hears in each channel of the WAV. `ToneWords.recording(words, seconds)` writes a
two-channel 16-bit PCM WAV (as Twilio serves a dual recording) whose channels are each one constant
level, and remembers which words (recording time) that level stands for; the recognisers the
factory builds hear a channel of that level as those words, in one final result, and anything
else as nothing. So a recordings test gets a synthetic call's words back from the real stand-in,
through its real auth, decoding, multichannel split and Deepgram JSON.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable

from callscribe_local import g711
from callscribe_local.recognizer import Hypothesis, Recognizer
from callscribe_local.recognizer import Word as HeardWord
from callscribe_local.wavfile import write_wav
from functions.recordings.words import INBOUND, OUTBOUND, Word

RATE = 8000
FIRST_LEVEL = 1000
LEVEL_STEP = 1100  # wider than mu-law's quantisation step at every level used


class ToneWords:
    """A `RecognizerFactory` for the stand-in, and the recordings it can hear."""

    def __init__(self) -> None:
        self._heard: dict[int, tuple[HeardWord, ...]] = {}  # mu-law byte of a channel -> its words

    def recording(self, words: Iterable[Word], seconds: float) -> bytes:
        """A dual-channel WAV of `seconds` whose channels are heard as these words' tracks."""
        words = list(words)
        channels = []
        for track in (INBOUND, OUTBOUND):
            level = FIRST_LEVEL + LEVEL_STEP * len(self._heard)
            sample = struct.pack("<h", level)
            tone = g711.pcm16_to_ulaw(sample)[0]
            if tone in self._heard:
                raise ValueError("out of distinct tones: use a new ToneWords")
            self._heard[tone] = tuple(
                HeardWord(w.text, w.start, w.end, w.confidence or 0.9)
                for w in sorted(words, key=lambda w: w.start)
                if w.track == track
            )
            channels.append(sample * round(seconds * RATE))
        return write_wav(channels, RATE)

    def __call__(self, params: dict[str, str]) -> Recognizer:
        return _ToneRecognizer(self._heard)


class _ToneRecognizer:
    def __init__(self, heard: dict[int, tuple[HeardWord, ...]]) -> None:
        self._heard = heard
        self._tones: Counter[int] = Counter()
        self._seconds = 0.0

    def accept(self, mulaw: bytes) -> list[Hypothesis]:
        self._tones.update(mulaw)
        self._seconds += len(mulaw) / RATE
        return []

    def finalize(self) -> list[Hypothesis]:
        if not self._tones:
            return []
        words = self._heard.get(self._tones.most_common(1)[0][0], ())
        return [Hypothesis(words, 0.0, self._seconds, is_final=True, speech_final=True)] if words else []
