"""Persistence of the summary on the call record: the only module here that writes to DynamoDB.

The summary is written with `attribute_not_exists(summary)`, so whatever happens upstream (an
idempotency record that expired, a replay from the dead-letter queue) a stored summary is never
replaced. `summary_event_at` is set after "Summary Created" is on the bus; a stored summary without
it is one whose event is still owed (the previous attempt failed in between), and the retry publishes
it without asking the model again.
"""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from functions.summaries.models import StoredSummary
from shared import clock
from shared.models import CallRecord, calls_model
from shared.repository import get_call
from shared.status import SummaryStatus

CONDITION_FAILED = "ConditionalCheckFailedException"


class SummaryStore:
    def __init__(self, calls_table: str) -> None:
        self._table = calls_table
        self._model = calls_model(calls_table)

    def get(self, call_sid: str) -> CallRecord | None:
        return get_call(self._table, call_sid)

    def save(self, call_sid: str, summary: StoredSummary) -> bool:
        """Store `summary` unless the call already has one; True when this write stored it."""
        model = self._model
        try:
            model(call_sid).update(
                actions=[
                    model.summary.set(summary.to_attribute()),
                    model.summary_status.set(SummaryStatus.COMPLETED.value),
                    model.summary_created_at.set(summary.created_at),
                    model.updated_at.set(clock.now_iso()),
                ],
                condition=model.summary.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    def mark_event_published(self, call_sid: str) -> None:
        """Record that "Summary Created" is on the bus (first time wins; a repeat changes nothing)."""
        model = self._model
        try:
            model(call_sid).update(
                actions=[model.summary_event_at.set(clock.now_iso())],
                condition=model.summary.exists() & model.summary_event_at.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != CONDITION_FAILED:
                raise
