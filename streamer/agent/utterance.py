"""A piece of agent speech as the caller hears it: its sentences, their audio, and what was heard.

Kept apart from the TTS socket (`speech.py`) because everyone in agent mode reads it: the speaker
fills it in, turn taking cuts the history back to what was heard on a barge-in, the ending waits on
`done`, and the transcript stores `heard` in stream time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

BYTES_PER_SECOND = 8000  # 8 kHz mu-law: what Twilio plays, one byte per sample


@dataclass(eq=False)
class Sentence:
    text: str
    mark: str
    audio: bytes | None = None  # preset audio (DTMF tones): played without the TTS
    audio_bytes: int = 0
    flushed: bool = False
    played: bool = False


@dataclass(eq=False)
class Utterance:
    """One continuous piece of agent speech (a reply, the greeting, a prompt)."""

    number: int
    turn_ended_at: float | None  # monotonic end of the caller's turn it answers (latency metric)
    history_mark: int | None = None  # a model reply: history length to cut back to on barge-in
    scripted: bool = False  # fixed text (greeting, prompts): enters the history when it has played
    sentences: list[Sentence] = field(default_factory=list)
    closed: bool = False  # no more sentences will be added
    interrupted: bool = False
    first_audio_at: float | None = None
    play_started_at: float | None = None  # monotonic estimate of when the caller began to hear it
    ended_at: float | None = None  # monotonic: last mark echoed, or the interruption
    heard: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences if s.text)

    @property
    def audio_bytes(self) -> int:
        return sum(s.audio_bytes for s in self.sentences)

    def heard_text(self, played_bytes: int) -> str:
        """The words of the first `played_bytes` of audio: whole sentences whose marks came back or
        whose audio has played, then the playing sentence's words in proportion to its audio."""
        words: list[str] = []
        for sentence in self.sentences:
            if sentence.played or played_bytes >= sentence.audio_bytes > 0:
                words.append(sentence.text)
                played_bytes -= sentence.audio_bytes
                continue
            if sentence.audio_bytes and played_bytes > 0 and sentence.text:
                parts = sentence.text.split()
                share = round(len(parts) * played_bytes / sentence.audio_bytes)
                if share:
                    words.append(" ".join(parts[:share]))
            break
        return " ".join(w for w in words if w)
