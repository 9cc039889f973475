"""The call status state machine.

    queued < initiated < ringing < in-progress < {completed, busy, no-answer, failed, canceled}

Twilio fires status callbacks in order but delivers them as separate HTTP requests that may arrive
in any order, and retries them. So the stored status only ever moves to a higher rank; the terminal
statuses share the top rank, so the first terminal status to land wins and is never replaced.
The rank is stored beside the status so DynamoDB can enforce this in a condition expression.
"""

from __future__ import annotations

from enum import StrEnum


class CallStatus(StrEnum):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_terminal(self) -> bool:
        return self.rank == TERMINAL_RANK


TERMINAL_RANK = 4

_RANK: dict[CallStatus, int] = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    CallStatus.COMPLETED: TERMINAL_RANK,
    CallStatus.BUSY: TERMINAL_RANK,
    CallStatus.NO_ANSWER: TERMINAL_RANK,
    CallStatus.FAILED: TERMINAL_RANK,
    CallStatus.CANCELED: TERMINAL_RANK,
}

TERMINAL_STATUSES = frozenset(s for s in CallStatus if s.is_terminal)


class TranscriptStatus(StrEnum):
    """Where a call's transcript stands.

    `failed`: Deepgram refused us (bad key, no credit) and the call went on untranscribed.
    `incomplete`: the stream ended with audio Deepgram never confirmed, or segments that could not be
    stored; what was stored is kept and summarised, and `transcript_error` says what is missing.
    """

    PENDING = "pending"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    FAILED = "failed"


class SummaryStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
