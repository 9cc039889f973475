"""Telephone audio: the G.711 mu-law codec the streamer speaks, and one track's audio timeline (what
Deepgram has not yet covered with a final result, and the map from audio bytes to stream time).

Every byte of a track gets an index (0, 1, 2, … over the whole call). Deepgram times are seconds of
audio on one connection; a connection that starts at index `origin` hears byte `origin + 8000·t` at
its time `t`. Stream time is Twilio's `media.timestamp` clock. Small timestamp gaps are filled with
mu-law silence (so Deepgram's clock and endpointing stay true); a gap longer than the fill limit
starts a new anchor instead of sending minutes of silence. Bytes before the end of the last final
result are confirmed and dropped: they are never needed again, which bounds memory.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

BYTES_PER_SECOND = 8000
BYTES_PER_MS = 8
MULAW_SILENCE = 0xFF
_GAP_TOLERANCE_MS = 2.0
_MULAW_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def linear_to_mulaw(sample: int) -> int:
    """G.711 mu-law of one 16-bit linear sample (the CCITT reference algorithm, 14-bit input;
    bit-exact with `audioop.lin2ulaw`)."""
    pcm = sample >> 2
    mask = 0xFF
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    pcm = min(pcm, 8159) + 0x21
    segment = next((i for i, top in enumerate(_MULAW_SEGMENT_ENDS) if pcm <= top), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((pcm >> (segment + 1)) & 0x0F)) ^ mask


@dataclass(frozen=True, slots=True)
class Anchor:
    index: int
    stream_ms: float


class TrackAudio:
    """Unconfirmed audio of one track (bounded), plus the index → stream-time anchors."""

    __slots__ = ("_anchor_index", "_anchors", "_base", "_buf", "_max_bytes", "_max_fill", "dropped_bytes")

    def __init__(self, max_bytes: int, max_silence_fill_ms: int = 1000) -> None:
        self._buf = bytearray()
        self._base = 0
        self._anchors: list[Anchor] = []
        self._anchor_index: list[int] = []
        self._max_bytes = max_bytes
        self._max_fill = max_silence_fill_ms
        self.dropped_bytes = 0

    @property
    def end(self) -> int:
        """Index one past the newest byte."""
        return self._base + len(self._buf)

    @property
    def confirmed(self) -> int:
        """Index of the oldest byte still held: the replay point after a reconnect."""
        return self._base

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

    def append(self, timestamp_ms: int, payload: bytes) -> int:
        """Add one Twilio frame; returns how many old unconfirmed bytes had to be dropped (0 normally)."""
        if not self._anchors:
            self._add_anchor(self.end, float(timestamp_ms))
        else:
            last = self._anchors[-1]
            expected_ms = last.stream_ms + (self.end - last.index) / BYTES_PER_MS
            gap_ms = timestamp_ms - expected_ms
            if gap_ms > _GAP_TOLERANCE_MS:
                if gap_ms <= self._max_fill:
                    self._buf.extend(bytes([MULAW_SILENCE]) * round(gap_ms * BYTES_PER_MS))
                else:
                    self._add_anchor(self.end, float(timestamp_ms))
        self._buf.extend(payload)
        excess = len(self._buf) - self._max_bytes
        if excess > 0:
            self.confirm(self._base + excess)
            self.dropped_bytes += excess
            return excess
        return 0

    def pending(self, from_index: int, limit: int) -> tuple[int, bytes]:
        """Up to `limit` bytes from `from_index` (or the oldest held byte, if that is later)."""
        start = max(from_index, self._base)
        offset = start - self._base
        return start, bytes(self._buf[offset : offset + limit])

    def confirm(self, index: int) -> None:
        """Deepgram finalised everything before `index`: forget it (never replayed again)."""
        index = min(index, self.end)
        if index <= self._base:
            return
        del self._buf[: index - self._base]
        self._base = index
        # keep the last anchor at or before the new base (it still maps what follows)
        keep_from = max(0, bisect_right(self._anchor_index, index) - 1)
        if keep_from:
            del self._anchors[:keep_from]
            del self._anchor_index[:keep_from]

    def stream_seconds(self, index: float, end: bool = False) -> float:
        """Stream time (seconds on Twilio's media.timestamp clock) of byte `index`.

        `end=True` maps the end of a stretch: at an anchor boundary it belongs to the piece before
        (a word ending where a timestamp gap starts ends there, not after the gap)."""
        if not self._anchors:
            return index / BYTES_PER_SECOND
        found = bisect_left(self._anchor_index, index) if end else bisect_right(self._anchor_index, index)
        pos = max(0, found - 1)
        anchor = self._anchors[pos]
        return (anchor.stream_ms + (index - anchor.index) / BYTES_PER_MS) / 1000.0

    def _add_anchor(self, index: int, stream_ms: float) -> None:
        self._anchors.append(Anchor(index, stream_ms))
        self._anchor_index.append(index)


class ConnectionClock:
    """Maps one Deepgram connection's audio seconds to track indices.

    Normally the connection hears a contiguous run of the track from `origin`; if the replay buffer
    overflowed while it was behind, the sender skipped bytes and a new piece starts here.
    """

    __slots__ = ("_pieces_index", "_pieces_pos", "closed", "next_index", "sent_bytes")

    def __init__(self, origin: int) -> None:
        self._pieces_pos = [0]
        self._pieces_index = [origin]
        self.sent_bytes = 0
        self.next_index = origin
        self.closed = False  # CloseStream sent on this connection

    def sent(self, start_index: int, count: int) -> None:
        if start_index != self.next_index:
            self._pieces_pos.append(self.sent_bytes)
            self._pieces_index.append(start_index)
        self.sent_bytes += count
        self.next_index = start_index + count

    def index_at(self, seconds: float) -> float:
        pos = seconds * BYTES_PER_SECOND
        piece = max(0, bisect_right(self._pieces_pos, pos) - 1)
        return self._pieces_index[piece] + (pos - self._pieces_pos[piece])
