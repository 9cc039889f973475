"""One call's redaction of its final segments, before any of them is written.

Every segment the session stores (a track's final result, what the caller heard of the agent) goes
through `CallRedaction.accept`, which hands back the segments that may now be written, their text
redacted by `shared.redaction` (one `TrackRedactor` per track and speaker, all counting into the
call's one `Redactor`; `counts` become the record's `redaction_counts`). A segment ending in digits
is held until its run is judged: a later segment of its track with other words, `flush` at the end,
or a `HOLD_*` bound (stream time measured by any track's next segment).
Must keep, with redaction on: nothing unredacted is written; memory bounded (`HOLD_SEGMENTS` a stream).
Why the hold: docs/streamer.md ("Storing segments", "The hold").
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from shared.redaction import Redactor, TrackRedactor

if TYPE_CHECKING:
    from streamer.deepgram import Segment


@dataclasses.dataclass(frozen=True, slots=True)
class Pending:
    """A segment on its way to the writes, with whom and what produced it."""

    segment: Segment
    speaker: str
    source: str


class CallRedaction:
    def __init__(self, redactor: Redactor | None) -> None:
        """`redactor` None: redaction is off (TRANSCRIPT_REDACTION=false); segments pass unchanged."""
        self._redactor = redactor
        self._streams: dict[tuple[str, str], TrackRedactor[Pending]] = {}

    @property
    def enabled(self) -> bool:
        return self._redactor is not None

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._redactor.counts) if self._redactor is not None else {}

    @property
    def held(self) -> int:
        return sum(stream.held for stream in self._streams.values())

    def accept(self, pending: Pending) -> list[Pending]:
        """The segments that may be written now (possibly none, possibly some held earlier)."""
        if self._redactor is None:
            return [pending]
        segment = pending.segment
        where = (segment.track, pending.speaker)
        stream = self._streams.get(where)
        if stream is None:
            stream = self._streams[where] = TrackRedactor(self._redactor)
        released = [
            done
            for other, held in self._streams.items()
            if other != where
            for done in held.expire(segment.start)
        ]
        released += stream.push(pending, segment.text, start=segment.start)
        return [_with_text(p, text) for p, text in released]

    def flush(self) -> list[Pending]:
        """Everything still held (the stream ended), redacted."""
        return [_with_text(p, text) for stream in self._streams.values() for p, text in stream.finish()]


def _with_text(pending: Pending, text: str) -> Pending:
    if text == pending.segment.text:
        return pending
    return dataclasses.replace(pending, segment=dataclasses.replace(pending.segment, text=text))
