"""What a status callback means for the call record, and `Call Completed` exactly once.

Twilio delivers status callbacks as separate requests that arrive in any order, twice, or for a call
we never saw. The store guarantees the order (a status write only moves the rank up); this module
decides what each status writes and when the event is due:

- `in-progress` sets `answered_at` (first time only); a terminal status sets `ended_at` and the
  duration, which the rank condition lets happen once, for the first terminal callback to land;
- `Call Completed` is published after a conditional claim on the record (only on a terminal call,
  only when unclaimed), and the claim is released if the bus refuses, so that Twilio's retry (or a
  duplicate callback) publishes it instead;
- `Recording Completed` likewise, once per recording SID (the claim is the SID added to the record's
  `recording_event_sids`), so a repeated or concurrent completed callback publishes it once.
- every status puts the call in the sweeper's index (`sweep_after`): the terminal one from `ended_at`,
  an earlier one `SWEEP_FALLBACK_SECONDS` after it was reached, so a call whose terminal callback
  never comes is still swept one day (docs/recordings.md, "The sweeper").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from shared import clock
from shared.dal.ports import WebhookCallWrites
from shared.dal.records import CallParties, StatusAdvance
from shared.events import CallCompleted, DomainEvent, EventPublisher, PublishError, RecordingCompleted
from shared.status import CallStatus

# A call with no terminal status this long after a status it did reach is swept anyway. Twilio ends
# calls at their time limit (4 h by default); a day leaves room for a raised limit, so a call that is
# still live is never taken for one whose streamer and status callback were both lost.
SWEEP_FALLBACK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class StatusChange:
    """One status callback (or the status carried by a voice webhook)."""

    call_sid: str
    status: CallStatus
    at: str  # ISO-8601 time the event fired (Twilio's Timestamp), else when we received it
    duration_seconds: int | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None
    parties: CallParties | None = None  # used only to create a record for a call not seen yet


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
        sweep_after=change.at if terminal else _fallback(change.at),
    )


def _fallback(at: str) -> str:
    return clock.iso(clock.parse_iso(at) + timedelta(seconds=SWEEP_FALLBACK_SECONDS))


def advance(store: WebhookCallWrites, change: StatusChange) -> bool:
    """Apply the change when it moves the call forward; False when it is stale or repeated."""
    return store.advance_status(status_advance(change))


def record_status(
    store: WebhookCallWrites,
    publisher: EventPublisher,
    change: StatusChange,
    now: Callable[[], str] = clock.now_iso,
) -> bool:
    """Apply a status callback, then publish `Call Completed` if it is due. True if it advanced.

    The claim is tried for every terminal callback, including stale duplicates: that is how a
    retried callback publishes an event whose first publication failed.
    """
    advanced = advance(store, change)
    if change.status.is_terminal:
        publish_call_completed_once(store, publisher, change.call_sid, now)
    return advanced


def publish_call_completed_once(
    store: WebhookCallWrites,
    publisher: EventPublisher,
    call_sid: str,
    now: Callable[[], str] = clock.now_iso,
) -> bool:
    """Publish `Call Completed` if nobody has; raises PublishError (claim released) if the bus fails."""
    claimed_at = now()
    completed = store.claim_completion(call_sid, claimed_at)
    if completed is None:
        return False
    event = CallCompleted.model_validate(
        {
            "callSid": completed.call_sid,
            "status": completed.status,
            "durationSeconds": completed.duration_seconds,
        }
    )
    _publish(publisher, event, release=lambda: store.release_completion(call_sid, claimed_at))
    return True


def publish_recording_completed_once(
    store: WebhookCallWrites, publisher: EventPublisher, event: RecordingCompleted
) -> bool:
    """Publish `Recording Completed` unless it is out for this recording already; raises
    PublishError (claim released) if the bus fails."""
    if not store.claim_recording_event(event.call_sid, event.recording_sid):
        return False
    _publish(
        publisher, event, release=lambda: store.release_recording_event(event.call_sid, event.recording_sid)
    )
    return True


def _publish(publisher: EventPublisher, event: DomainEvent, release: Callable[[], None]) -> None:
    try:
        publisher.publish(event)
    except Exception as exc:
        release()
        if isinstance(exc, PublishError):
            raise
        raise PublishError(f"{event.detail_type} for {event.call_sid} not published: {exc}") from exc
