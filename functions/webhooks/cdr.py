"""What a status callback means for the call record.

Twilio delivers status callbacks as separate requests that arrive in any order, twice, or for a call
we never saw. The store guarantees the order (a status write only moves the rank up); what each
status writes (its times, the sweeper's marker) is `shared.status_changes`' (the sweeper applies what
Twilio's REST API says through the same rules when a callback was lost).

The request path only writes the record: the outbox (`functions/outbox`) announces what a write
changed from the table's stream, so `Call Completed` goes out once, when the terminal status lands,
whatever happens to the request afterwards, and a status the sweeper learns from Twilio is announced
the same way.
"""

from __future__ import annotations

from shared.dal.ports import WebhookCallWrites
from shared.status_changes import StatusChange, status_advance

__all__ = ["StatusChange", "advance"]


def advance(store: WebhookCallWrites, change: StatusChange) -> bool:
    """Apply the change when it moves the call forward; False when it is stale or repeated."""
    return store.advance_status(status_advance(change))
