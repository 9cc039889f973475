"""The end-to-end tests' wait for a call to be final: `callscribe_local.settlement` (what `callscribe
call` and the demo wait for), plus the summaries deliveries the record owes having run, so nothing
the test reads afterwards (the bus, the dispatchers' deliveries) is still moving."""

from __future__ import annotations

import time
from typing import Any

from callscribe_local.settlement import settlement
from callscribe_local.stack import LocalStack


def wait_until_settled(
    stack: LocalStack, call_sid: str, *, timeout: float = 180.0, no_recording: bool = False
) -> dict[str, Any]:
    """The call's record once it has settled and its summaries deliveries (Transcript Completed, and
    Transcript Reconciled once a recording was reconciled) were handled; AssertionError, naming what
    was still pending, after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        record = stack.get_call_json(call_sid)
        outcome = settlement(record, no_recording=no_recording)
        handled = [d for d in stack.deliveries if d.call_sid == call_sid and (d.ok or d.dead_lettered)]
        reconciled = record is not None and record.get("recording") and record.get("transcriptSource")
        owed = 2 if reconciled else 1
        if record is not None and outcome.settled and len(handled) >= owed:
            return record
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{call_sid} did not settle within {timeout} s: pending {list(outcome.pending)}, "
                f"{len(handled)} of {owed} summaries deliveries handled"
            )
        time.sleep(0.25)
