"""Deepgram live STT messages (Deepgram → us, `/v1/listen`), parsed once into typed values.

Both readers of a track's results take these values: the transcriber (`streamer/deepgram.py`), which
stores finals, and agent mode's turn taking (`streamer/agent/turns.py`), which hears every Results,
SpeechStarted and UtteranceEnd. Parsing in one place means one rule for what is malformed: a Results
without its times or its first alternative is skipped by both, never stored by one and acted on by
the other.

Hand-written like `streamer/protocol.py` rather than pydantic: Results arrive several times a second
per track on every call, and slotted dataclasses cost a fraction of a validated model. Only Results
is parsed strictly (its times place stored text on the stream clock); the other kinds carry nothing
the bridge depends on, so a missing field there is `None`, not a reason to drop the event.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple


class MessageError(ValueError):
    """A text frame the bridge cannot use: logged and skipped by the reader."""


class NotJsonError(MessageError):
    """The frame is not JSON at all."""


class MalformedResultsError(MessageError):
    """A Results message whose times or alternatives are missing or not numbers."""


class Word(NamedTuple):
    """A named tuple, not a frozen dataclass: a final carries dozens of words, and building a frozen
    dataclass costs about three times as much per word."""

    text: str  # the punctuated form when Deepgram sent one (smart_format/punctuate), else the word
    start: float  # connection seconds, like every time in these messages
    end: float


@dataclass(frozen=True, slots=True)
class Results:
    """Interim or final transcript of `start` .. `start + duration` (connection seconds)."""

    start: float
    duration: float
    is_final: bool
    speech_final: bool
    transcript: str
    confidence: float | None
    words: tuple[Word, ...]

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def has_speech(self) -> bool:
        """The caller is saying something (words, or text without word timings)."""
        return bool(self.words) or bool(self.transcript.strip())


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class UtteranceEnd:
    last_word_end: float | None


@dataclass(frozen=True, slots=True)
class Metadata:
    request_id: str | None
    duration: float | None


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """`{"type": "Error", …}` or any message carrying `err_code`; `detail` is its text, cut short."""

    detail: str


Message = Results | SpeechStarted | UtteranceEnd | Metadata | ErrorMessage
# What a listener (agent mode) is handed: the caller's speech as it is recognised.
ListenEvent = Results | SpeechStarted | UtteranceEnd


def parse(text: str | bytes) -> Message | None:
    """One text frame → one message, or None for what the bridge ignores (other types, non-objects).

    `NotJsonError` and `MalformedResultsError` say why a frame was skipped; nothing else escapes,
    whatever the frame (a reader that let an exception through would lose the track's connection)."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotJsonError("deepgram sent non-JSON text") from exc
    except RecursionError as exc:
        # Not a ValueError: without this, brackets nested past the interpreter's limit escape the
        # reader's `except MessageError` and end the track's connection (as streamer/protocol.py).
        raise NotJsonError("deepgram sent JSON nested too deeply") from exc
    if not isinstance(doc, dict):
        return None
    kind = doc.get("type")
    if kind == "Results":
        return _results(doc)
    if kind == "SpeechStarted":
        return SpeechStarted(timestamp=_number_or_none(doc.get("timestamp")))
    if kind == "UtteranceEnd":
        return UtteranceEnd(last_word_end=_number_or_none(doc.get("last_word_end")))
    if kind == "Metadata":
        request_id = doc.get("request_id")
        return Metadata(
            request_id=request_id if isinstance(request_id, str) else None,
            duration=_number_or_none(doc.get("duration")),
        )
    if kind == "Error" or "err_code" in doc:
        # the frame's own text, not str(doc): a repr walks the whole structure, however deep
        return ErrorMessage(detail=_head(text, 300))
    return None


def _results(doc: dict[str, Any]) -> Results:
    try:
        alternative = doc["channel"]["alternatives"][0]
        start = _finite(doc["start"])
        duration = _finite(doc["duration"])
        words = tuple(
            Word(str(w.get("punctuated_word") or w["word"]), _finite(w["start"]), _finite(w["end"]))
            for w in alternative.get("words") or ()
            if isinstance(w, dict)
        )
        confidence = alternative.get("confidence")
        return Results(
            start=start,
            duration=duration,
            is_final=bool(doc.get("is_final")),
            speech_final=bool(doc.get("speech_final")),
            transcript=str(alternative.get("transcript") or ""),
            confidence=None if confidence is None else float(confidence),
            words=words,
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        # RecursionError: str() of a word or transcript that is a deeply nested list instead.
        # The message is logged: it names the missing key at most, never a value (which could be
        # transcript text), and the cause is dropped so a traceback cannot show one either.
        where = f": missing {str(exc)[:40]}" if isinstance(exc, KeyError) else ""
        raise MalformedResultsError(f"malformed Results: {type(exc).__name__}{where}") from None


def _head(text: str | bytes, limit: int) -> str:
    if isinstance(text, bytes):
        return text[: limit * 4].decode("utf-8", "replace")[:limit]
    return text[:limit]


def _finite(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
