"""What Twilio does with the audio a bidirectional `<Connect><Stream>` sends it: a playback queue.

The server's `media` messages are queued and played in order at 8000 bytes (mu-law samples) a
second; a `mark` is queued behind the audio sent before it and comes back (is echoed) when that
audio has played; `clear` drops every queued byte at once and echoes every pending mark, so an
echoed mark does not by itself mean "played". Time is the caller's: whoever drives the queue says
how many bytes of playback time have passed (`play`), so the same queue serves a phone paced in
real time, one paced faster, and a test's own clock.

One implementation for the simulated phone (`agent_stream.py`) and the tests' agent phone; it holds
no sockets and no clock. A change must keep: marks echo in the order sent, never before the audio
queued ahead of them has played, and a clear echoes exactly the marks not yet echoed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

BYTES_PER_SECOND = 8000  # 8 kHz mu-law: one byte per sample


@dataclass
class _Pending:
    audio: bytearray = field(default_factory=bytearray)
    mark: str | None = None  # None: audio; else a mark, echoed once the audio before it has played


@dataclass(frozen=True)
class Played:
    """What one stretch of playback time did: the audio that played (at most the bytes asked for;
    shorter when the queue ran dry) and the marks it reached, in order."""

    audio: bytes
    marks: tuple[str, ...]


@dataclass(frozen=True)
class Cleared:
    """What a `clear` dropped: bytes of audio never played, and the marks it echoes."""

    dropped_bytes: int
    marks: tuple[str, ...]


class Playout:
    """Twilio's playback buffer for one bidirectional stream."""

    def __init__(self) -> None:
        self._queue: deque[_Pending] = deque()
        self.received_bytes = 0
        self.played_bytes = 0

    @property
    def queued_bytes(self) -> int:
        return sum(len(p.audio) for p in self._queue)

    @property
    def idle(self) -> bool:
        """Nothing left to play and no mark waiting to come back."""
        return not self._queue

    def media(self, audio: bytes) -> None:
        self.received_bytes += len(audio)
        if self._queue and self._queue[-1].mark is None:
            self._queue[-1].audio.extend(audio)
        elif audio:
            self._queue.append(_Pending(bytearray(audio)))

    def mark(self, name: str) -> None:
        self._queue.append(_Pending(mark=name))

    def clear(self) -> Cleared:
        dropped = self.queued_bytes
        marks = tuple(p.mark for p in self._queue if p.mark is not None)
        self._queue.clear()
        return Cleared(dropped, marks)

    def play(self, budget: int) -> Played:
        """Let `budget` bytes of playback time pass. A mark reached at the end of the audio is echoed
        now, even when the budget is spent exactly there: its audio has played."""
        audio = bytearray()
        marks: list[str] = []
        while self._queue:
            head = self._queue[0]
            if head.mark is not None:
                marks.append(head.mark)
                self._queue.popleft()
                continue
            take = min(len(head.audio), budget - len(audio))
            if take <= 0:
                break
            audio.extend(head.audio[:take])
            del head.audio[:take]
            if not head.audio:
                self._queue.popleft()
        self.played_bytes += len(audio)
        return Played(bytes(audio), tuple(marks))
