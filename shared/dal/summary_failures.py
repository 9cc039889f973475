"""`summary_status = failed` on a call: the one write that says its summary could not be made.

Two writers use it (docs/summaries.md, "When no summary comes"): the summaries Lambda, when the model
refuses the request for good (a retry cannot help), and the sweeper, when a call's transcript is
final but no summary was stored within its patience (the delivery failed and went to the DLQ, or
was lost). A change must keep the condition: the mark never lands on a call that has a summary, so
it can neither replace nor contradict one, and a summary stored later (a re-drive, an operator's
DLQ redrive) sets `completed` over it (`save_summary`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from shared import clock
from shared.dal.models import calls_model
from shared.dal.updates import conditional_update
from shared.status import SummaryStatus


class SummaryFailureWrites(Protocol):
    def summary_failed(self, call_sid: str) -> bool:
        """Mark the call's summary failed; False (nothing written) when it has a summary."""
        ...


class DynamoSummaryFailures:
    """`SummaryFailureWrites` over the calls table (one conditional UpdateItem)."""

    def __init__(self, calls_table: str, now: Callable[[], str] = clock.now_iso) -> None:
        self._model = calls_model(calls_table)
        self._now = now

    def summary_failed(self, call_sid: str) -> bool:
        m = self._model
        now = self._now()
        return conditional_update(
            m(call_sid),
            [
                m.summary_status.set(SummaryStatus.FAILED.value),
                m.created_at.set(m.created_at | now),
                m.updated_at.set(now),
            ],
            m.summary.does_not_exist(),
            f"summary failure mark of {call_sid}",
        )
