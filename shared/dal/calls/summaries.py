"""The summaries tier's writes to the call record: the summary (`DynamoSummaryCalls`), the mark that
none is coming (`DynamoSummaryFailureWrites`, which the sweeper's adapter shares) and the evaluation
backfill's answers (`DynamoEvaluationBackfillCalls`).

What a change must keep: a summary is stored once (`attribute_not_exists(summary)`) and replaced
only by one of another transcript version (each such write is one `Summary Created`, announced by
the outbox from the table's stream); `summary_status = failed` never lands on a call that has a
summary, and a summary stored later sets `completed` over it; evaluation answers ride in the
summary's write; the backfill stores answers only on an existing call whose `evaluations_version` is
another question set's (a re-run writes nothing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shared.dal.calls.core import CallTableAdapter, DynamoCallReader, to_call
from shared.dal.calls.cost import DynamoCostWrites
from shared.dal.records import Call, EvaluationSet
from shared.dal.tables import CallRecord
from shared.status import SummaryStatus


class DynamoSummaryFailureWrites(CallTableAdapter):
    """`SummaryFailureWrites`: `summary_status = failed`, only on an existing call without a summary
    (a mark never creates a bare record). Part of the summaries' and the sweeper's adapters
    (docs/summaries.md, "When no summary comes")."""

    def summary_failed(self, call_sid: str) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [m.summary_status.set(SummaryStatus.FAILED.value), m.updated_at.set(self._table.now())],
            m.call_sid.exists() & m.summary.does_not_exist(),
            f"summary failure mark of {call_sid}",
        )


class DynamoSummaryCalls(DynamoCostWrites, DynamoSummaryFailureWrites):
    """`SummaryCalls`: the summary, stored once, replaced once per transcript version, and the mark
    that none is coming."""

    def save_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [
                m.summary.set(dict(summary)),
                m.summary_status.set(SummaryStatus.COMPLETED.value),
                m.summary_created_at.set(created_at),
                m.updated_at.set(self._table.now()),
                *_evaluation_actions(m, evaluations),
            ],
            m.summary.does_not_exist(),
            f"summary write of {call_sid}",
        )

    def replace_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        transcript_version: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        m = self._table.model
        summarised = m.summary["transcript_version"]
        return self._table.update(
            call_sid,
            [
                m.summary.set(dict(summary)),
                m.summary_status.set(SummaryStatus.COMPLETED.value),
                m.summary_created_at.set(created_at),
                m.updated_at.set(self._table.now()),
                *_evaluation_actions(m, evaluations),
            ],
            m.summary.exists() & (summarised.does_not_exist() | (summarised != transcript_version)),
            f"summary rewrite of {call_sid}",
        )


class DynamoEvaluationBackfillCalls(DynamoCallReader):
    """`EvaluationBackfillCalls`: the calls of a day, and answers stored once per question set."""

    def calls_started_on(self, day: str) -> Iterator[Call]:
        m = self._table.model
        for record in self._table.query(m.calls_by_day, day, what=f"reading the calls of {day}"):
            yield to_call(record)

    def save_evaluations(self, call_sid: str, evaluations: EvaluationSet) -> bool:
        m = self._table.model
        return self._table.update(
            call_sid,
            [*_evaluation_actions(m, evaluations), m.updated_at.set(self._table.now())],
            m.call_sid.exists()
            & (m.evaluations_version.does_not_exist() | (m.evaluations_version != evaluations.version)),
            f"evaluations write of {call_sid}",
        )


def _evaluation_actions(m: type[CallRecord], evaluations: EvaluationSet | None) -> list[Any]:
    if evaluations is None:
        return []
    return [
        m.evaluations.set([dict(answer) for answer in evaluations.answers]),
        m.evaluations_version.set(evaluations.version),
    ]
