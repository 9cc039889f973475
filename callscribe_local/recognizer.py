"""The speech-recognition port of the local Deepgram stand-in (callscribe_local.deepgram_server).

The stand-in speaks Deepgram's live protocol on the wire; what it *hears* is pluggable:
- `ScriptedRecognizer`-style fakes in tests (deterministic words per stretch of audio, so tests can
  check exact segments, timing, replay and de-duplication);
- the pocketsphinx recognizer for `make demo` (real, rough, offline speech recognition).

Times are seconds on the connection's own audio clock (bytes received / 8000 for 8 kHz mu-law),
which is what real Deepgram reports: it restarts at 0 on every new connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    confidence: float = 0.9


@dataclass(frozen=True)
class Hypothesis:
    """What the recognizer heard over [start, start + duration) of the connection's audio clock.

    `is_final` marks the audio up to `start + duration` as done (a Deepgram final Results);
    `speech_final` says the speaker paused (endpointing). Interim hypotheses have is_final False.
    """

    words: tuple[Word, ...]
    start: float
    duration: float
    is_final: bool
    speech_final: bool = False
    from_finalize: bool = False

    @property
    def transcript(self) -> str:
        return " ".join(w.word for w in self.words)


class RecognizerBusyError(RuntimeError):
    """No recognizer can be had now (a bounded pool is in use): the stand-in answers 429
    TOO_MANY_REQUESTS, as Deepgram does to a stream over the project's concurrency limit."""


class Recognizer(Protocol):
    """One instance per Deepgram connection (and per channel). Called from the server's event loop;
    a slow recognizer should do its work in a thread and return quickly.

    A recognizer holding something expensive may also have `close()`: the stand-in calls it once
    when the connection ends, however it ends. A factory with a bounded capacity may have
    `available() -> bool` (checked at the handshake, to refuse with 429 before accepting) and raise
    `RecognizerBusyError` when called over capacity.
    """

    def accept(self, mulaw: bytes) -> list[Hypothesis]:
        """Take the next chunk of 8 kHz mu-law audio; return any hypotheses it completes."""
        ...

    def finalize(self) -> list[Hypothesis]:
        """Flush everything heard so far as final (client sent Finalize or CloseStream)."""
        ...


RecognizerFactory = Callable[[dict[str, str]], Recognizer]
"""Builds a recognizer for a new connection from its query parameters (model, language, ...)."""
