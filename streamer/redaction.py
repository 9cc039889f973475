"""One call's redaction of its final segments, before any of them is written (issue 14).

Every segment the session stores (a track's final result, what the caller heard of the agent) goes
through `CallRedaction.accept`, which hands back the segments that may now be written, their text
redacted (`shared.redaction`): card numbers (numerals or digit words, Luhn-checked), SSNs, routing
and account numbers and the configured patterns become `[REDACTED <KIND>]`.

A number read out in groups lands in several finals ("4111 1111" … "1111 1111"), none of which is a
number on its own. So a segment of nothing but digits is held back, per track and speaker, until a
segment that is not only digits arrives on that track (or the stream ends: `flush`), or until the
held digits are more than any number we redact could have; the held run is then judged as one
number, as the summaries judge consecutive digits-only lines. Only digits-only segments are ever
held (they are rare, and a caller reading a number out is exactly what they are), and never longer
than the next words of the same speaker. What is still missed, and why, is in docs/data-model.md
("Redaction").

`counts` are the call's totals per kind, written onto the call record as `redaction_counts`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from shared.redaction import MAX_DIGITS, Redactor, digit_count, only_digits

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
        self._held: dict[tuple[str, str], list[Pending]] = {}

    @property
    def enabled(self) -> bool:
        return self._redactor is not None

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._redactor.counts) if self._redactor is not None else {}

    @property
    def held(self) -> int:
        return sum(len(run) for run in self._held.values())

    def accept(self, pending: Pending) -> list[Pending]:
        """The segments that may be written now (possibly none, possibly some held earlier)."""
        if self._redactor is None:
            return [pending]
        where = (pending.segment.track, pending.speaker)
        if only_digits(pending.segment.text):
            run = self._held.setdefault(where, [])
            run.append(pending)
            if sum(digit_count(p.segment.text) for p in run) <= MAX_DIGITS:
                return []
            return self._release(where)  # longer than any number: judged now, as it stands
        return [*self._release(where), *self._redact([pending])]

    def flush(self) -> list[Pending]:
        """Everything still held (the stream ended), redacted."""
        return [pending for where in list(self._held) for pending in self._release(where)]

    def _release(self, where: tuple[str, str]) -> list[Pending]:
        return self._redact(self._held.pop(where, []))

    def _redact(self, run: list[Pending]) -> list[Pending]:
        if not run:
            return []
        assert self._redactor is not None
        texts = self._redactor.redact_lines([p.speaker for p in run], [p.segment.text for p in run])
        return [
            p
            if text == p.segment.text
            else dataclasses.replace(p, segment=dataclasses.replace(p.segment, text=text))
            for p, text in zip(run, texts, strict=True)
        ]
