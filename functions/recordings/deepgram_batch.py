"""Deepgram pre-recorded (`POST /v1/listen`, `multichannel=true`) responses read into words per track.

Parsing only (the HTTP call is the adapter's), validated with pydantic; fields we do not read are
ignored. Channel 0 is the caller's side (`inbound`), channel 1 the dialled leg (`outbound`); a
one-channel recording is the caller's. What a change must keep: what cannot be true is a bad response
(`BatchResponseError`), never a transcript (JSON too deep, a time not finite, a word before 0 s or,
via `BatchTranscript.check_within`, after the recording's end); a word repeated is kept once.
Details: docs/recordings.md, "Words per track".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.recordings.words import INBOUND, OUTBOUND, Word
from shared.errors import CallscribeError
from shared.validation import describe_errors

CHANNEL_TRACKS = (INBOUND, OUTBOUND)
# Deepgram times a word's end by the audio it heard; rounding may put the last one a little past the
# file's own duration, never seconds past it.
END_TOLERANCE_SECONDS = 0.5


class BatchResponseError(CallscribeError):
    """Deepgram's answer is not a pre-recorded transcript we can use: the handler raises, and the
    event is retried, rather than reconcile against a transcript that silently lost its words."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class _Word(_Model):
    word: str
    start: float = Field(ge=0)
    end: float
    confidence: float | None = None
    punctuated_word: str | None = None


class _Alternative(_Model):
    transcript: str = ""
    words: list[_Word] = Field(default_factory=list)


class _Channel(_Model):
    alternatives: list[_Alternative] = Field(default_factory=list)


class _Results(_Model):
    channels: list[_Channel]


class _ModelInfo(_Model):
    name: str | None = None
    arch: str | None = None


class _Metadata(_Model):
    request_id: str | None = None
    duration: float | None = None
    channels: int | None = None
    model_info: dict[str, _ModelInfo] = Field(default_factory=dict)


class _Response(_Model):
    metadata: _Metadata = Field(default_factory=_Metadata)
    results: _Results


@dataclass(frozen=True, slots=True)
class BatchTranscript:
    """The recording's words per track, in recording seconds, in time order."""

    words: Mapping[str, tuple[Word, ...]]
    channels: int
    duration: float | None
    request_id: str | None
    model: str | None  # e.g. `general-nova-3`, for the segments' `source`
    duplicates: int = 0  # words repeated exactly in the answer, dropped

    def all_words(self) -> list[Word]:
        return [word for track in CHANNEL_TRACKS for word in self.words.get(track, ())]

    def check_within(self, recording_seconds: float) -> None:
        """Refuse an answer with a word after the end of the recording it transcribes."""
        latest = max((word.end for word in self.all_words()), default=0.0)
        if latest > recording_seconds + END_TOLERANCE_SECONDS:
            raise BatchResponseError(
                f"Deepgram's answer has a word ending at {latest:.3f} s in a recording of "
                f"{recording_seconds:.3f} s (request_id {self.request_id})"
            )


def track_of_channel(index: int, channel_count: int) -> str:
    """Which call track a recording channel holds (see the module docstring)."""
    if channel_count == 1:
        return INBOUND
    if 0 <= index < len(CHANNEL_TRACKS):
        return CHANNEL_TRACKS[index]
    raise BatchResponseError(f"a call recording has at most 2 channels, Deepgram reported {channel_count}")


def parse_response(payload: str | bytes | Mapping[str, Any]) -> BatchTranscript:
    """A Deepgram pre-recorded response (JSON text or already decoded) as words per track."""
    try:
        data = json.loads(payload) if isinstance(payload, (str, bytes)) else dict(payload)
        response = _Response.model_validate(data)
    except ValidationError as exc:
        # where and what, never the values: they are the recording's words, and this is logged
        raise BatchResponseError(f"not a Deepgram pre-recorded response: {describe_errors(exc)}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError; nesting past the parser's depth
        raise BatchResponseError(f"not a Deepgram pre-recorded response: {type(exc).__name__}") from None
    channels = response.results.channels
    if not channels:
        raise BatchResponseError("Deepgram's response has no channels")
    words: dict[str, tuple[Word, ...]] = {}
    duplicates = 0
    for index, channel in enumerate(channels):
        track = track_of_channel(index, len(channels))
        # alternatives[0] is Deepgram's best hypothesis; more exist only when asked for
        best = channel.alternatives[0].words if channel.alternatives else []
        parsed = [
            Word(
                track=track,
                start=word.start,
                end=max(word.end, word.start),
                text=word.punctuated_word or word.word,
                confidence=word.confidence,
            )
            for word in best
        ]
        unique = {(w.start, w.end, w.text): w for w in reversed(parsed)}  # the first of equal words
        duplicates += len(parsed) - len(unique)
        words[track] = tuple(unique[key] for key in sorted(unique))
    names = [info.name for info in response.metadata.model_info.values() if info.name]
    return BatchTranscript(
        words=words,
        channels=len(channels),
        duration=response.metadata.duration,
        request_id=response.metadata.request_id,
        model=names[0] if names else None,
        duplicates=duplicates,
    )
