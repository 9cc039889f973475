"""What a report of a call's status writes on its record, however the report came.

A status comes from a status callback (webhooks) or from the Call resource of Twilio's REST API (the
sweeper, when a callback was lost); both go through `status_advance`, so the record is the same
either way. Which times a status sets is decided here, the order by the store (`shared.status`):
- `in-progress` sets `answered_at` (first time only); a terminal status sets `ended_at` and the
  duration, once, for the first terminal report to land;
- every status puts the call in the sweeper's index (`sweep_after`): a terminal one at `ended_at`
  (replacing what was there), an earlier one at the first status reached (kept by later ones);
  docs/recordings.md ("The sweeper") says what the sweeper does from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.dal.records import CallParties, StatusAdvance
from shared.status import CallStatus


@dataclass(frozen=True)
class StatusChange:
    """One status report: a status callback, the status a voice webhook carries, or Twilio's REST."""

    call_sid: str
    status: CallStatus
    at: str  # ISO-8601 time the status was reached (Twilio's Timestamp, or the resource's times)
    duration_seconds: int | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None
    parties: CallParties | None = None  # only fills what the record lacks


def status_advance(change: StatusChange) -> StatusAdvance:
    """The write a status change makes: which times it sets is decided here, the order by the store."""
    terminal = change.status.is_terminal
    return StatusAdvance(
        call_sid=change.call_sid,
        status=change.status.value,
        rank=change.status.rank,
        at=change.at,
        answered_at=change.at if change.status is CallStatus.IN_PROGRESS else None,
        ended_at=change.at if terminal else None,
        duration_seconds=change.duration_seconds if terminal else None,
        answered_by=change.answered_by or None,
        sip_response_code=change.sip_response_code,
        parties=change.parties,
        sweep_after=change.at,
    )
