"""Which changes of a call record the live feed announces, and with what (pure).

A change is announced when the call appeared (its start is first written), or its status, its
transcript's status, its end, its reconciliation or its summary changed: those are what the board
and a call's page show. A record holding none of these (only its key: moto writes an UpdateItem that
creates an item as a key-only insert, then the update) is not news. The message carries the record
as it now is (status, times, parties, route, duration, whether the summary is ready and the
recording reconciled), so a client that missed an earlier message still shows the latest state. A
`<Dial>`ed leg's changes go to its parent's channel only (its page lists the legs); the board shows
calls, not legs.
"""

from __future__ import annotations

from shared.dal.records import Call
from shared.feed import CallUpdate

WATCHED = ("started_at", "status", "transcript_status", "ended_at", "reconciled_at", "summary_created_at")


def call_update(old: Call | None, new: Call | None) -> CallUpdate | None:
    """The update to announce for one change of a record, or None (nothing the feed shows changed,
    or the record was removed)."""
    if new is None or all(getattr(new, name) is None for name in WATCHED):
        return None
    if old is not None and all(getattr(old, name) == getattr(new, name) for name in WATCHED):
        return None
    return CallUpdate(
        call_sid=new.call_sid,
        parent_call_sid=new.parent_call_sid,
        status=new.status,
        transcript_status=new.transcript_status,
        started_at=new.started_at,
        ended_at=new.ended_at,
        direction=new.direction,
        route=new.route,
        from_number=new.from_number,
        to_number=new.to_number,
        duration_seconds=new.duration_seconds,
        summary_ready=new.summary is not None,
        reconciled=new.reconciled_at is not None,
    )
