"""What a status callback means for the call record, and `Call Completed` exactly once.

Twilio delivers status callbacks as separate requests that arrive in any order, twice, or for a call
we never saw. The store guarantees the order (a status write only moves the rank up); what each
status writes (its times, the sweeper's marker) is `shared.status_changes`' (the sweeper applies what
Twilio's REST API says through the same rules when a callback was lost); this module decides when
the events are due:

- `Call Completed` is published after a conditional claim on the record (only on a terminal call,
  only when unclaimed), and the claim is released if the bus refuses, so that Twilio's retry (or a
  duplicate callback) publishes it instead;
- `Recording Completed` likewise, once per recording SID (the claim is the SID added to the record's
  `recording_event_sids`), so a repeated or concurrent completed callback publishes it once.
"""

from __future__ import annotations

from collections.abc import Callable

from shared import clock
from shared.dal.ports import WebhookCallWrites
from shared.events import CallCompleted, DomainEvent, EventPublisher, PublishError, RecordingCompleted
from shared.status_changes import StatusChange, status_advance

__all__ = [
    "advance",
    "publish_call_completed_once",
    "publish_recording_completed_once",
    "record_status",
]


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
