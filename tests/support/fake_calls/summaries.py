"""Fakes of `DynamoSummaryCalls`, `DynamoSummaryFailureWrites` and `DynamoEvaluationBackfillCalls`: a
summary once, a rewrite once per transcript version, the failure mark only without a summary, answers
once per question set."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shared.dal.records import Call, EvaluationSet
from shared.status import SummaryStatus
from tests.support.fake_calls.core import FakeCallAdapter, FakeCallReader, Item
from tests.support.fake_calls.cost import FakeCostWrites


class FakeSummaryFailureWrites(FakeCallAdapter):
    """Part of `FakeSummaryCalls` and `FakeSweeperCalls`, as in the adapters."""

    def summary_failed(self, call_sid: str) -> bool:
        def apply(item: Item) -> None:
            item["summary_status"] = SummaryStatus.FAILED.value

        return self.table.update(call_sid, apply, lambda item: bool(item) and "summary" not in item)


class FakeSummaryCalls(FakeCostWrites, FakeSummaryFailureWrites):
    def save_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        def apply(item: Item) -> None:
            item.update(
                summary=dict(summary),
                summary_status=SummaryStatus.COMPLETED.value,
                summary_created_at=created_at,
                **_evaluation_values(evaluations),
            )

        return self.table.update(call_sid, apply, lambda item: "summary" not in item)

    def replace_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        transcript_version: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        def another_version(item: Item) -> bool:
            return "summary" in item and item["summary"].get("transcript_version") != transcript_version

        def apply(item: Item) -> None:
            item.update(
                summary=dict(summary),
                summary_status=SummaryStatus.COMPLETED.value,
                summary_created_at=created_at,
                **_evaluation_values(evaluations),
            )

        return self.table.update(call_sid, apply, another_version)


class FakeEvaluationBackfillCalls(FakeCallReader):
    def calls_started_on(self, day: str) -> Iterator[Call]:
        items = self.table.query(lambda item: item.get("call_date") == day and bool(item.get("started_at")))
        for item in sorted(items, key=lambda i: (i["started_at"], i["call_sid"])):
            yield Call.from_item(item)

    def save_evaluations(self, call_sid: str, evaluations: EvaluationSet) -> bool:
        def another_set(item: Item) -> bool:
            return "call_sid" in item and item.get("evaluations_version") != evaluations.version

        return self.table.update(
            call_sid, lambda item: item.update(_evaluation_values(evaluations)), another_set
        )


def _evaluation_values(evaluations: EvaluationSet | None) -> dict[str, Any]:
    if evaluations is None:
        return {}
    return {
        "evaluations": [dict(answer) for answer in evaluations.answers],
        "evaluations_version": evaluations.version,
    }
