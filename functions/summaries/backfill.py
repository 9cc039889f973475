"""Answer the evaluation questions for calls summarised before the question set changed, under a
hard cost cap.

    python -m functions.summaries.backfill --max-usd 2.50 --since 30 [--until 0] [--dry-run]

What a change must keep: each answer set is stored with a write conditional on the call holding
another `evaluations_version` (`save_evaluations`), so nothing is written twice; the cap is never
passed: every request's worst case is reserved before it is sent (a request that does not fit stops
the run), replaced by the reported usage after, and a model without a price refuses to start.
It reads the summaries Lambda's environment. How, and how the worst case is bounded:
docs/summaries.md, "Backfill (past calls), with a cost cap".
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from functions.summaries.errors import SummaryError
from functions.summaries.evaluations import store_answers
from functions.summaries.llm import LanguageModel, StructuredReply, StructuredRequest, T
from functions.summaries.pricing import price_for, request_cost
from functions.summaries.prompts import load_prompts
from functions.summaries.redaction import redact_answers, redact_transcript
from functions.summaries.settings import SummaryModelSettings
from functions.summaries.summarizer import Summarizer, SummarizerConfig
from functions.summaries.transcript import build_transcript
from shared.dal.ports import EvaluationBackfillCalls, SegmentReader
from shared.dal.records import Call, EvaluationSet
from shared.evaluations import NOT_ASKED, answered_by, applicable, no_answers
from shared.observability import logger

# Characters per token assumed when bounding a request's input. Tokenizers average ~3.5-4 characters
# per token on English, but the 5.x tokenizer counts ~30 % more and digits, non-Latin scripts and
# markup tokenize far denser; the bound must hold for any transcript, so it is deliberately low.
CHARS_PER_TOKEN_BOUND = 2.0
REQUEST_TIMEOUT_SECONDS = 120.0

Stopped = Literal["done", "cap"]


class CapReached(Exception):
    """The next request's worst case does not fit in what is left of the cap."""


@dataclass
class CostCap:
    """Dollars spent and reserved against a cap; thread-safe (map requests run concurrently)."""

    max_usd: float
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, worst_usd: float) -> None:
        with self._lock:
            if self.spent_usd + self.reserved_usd + worst_usd > self.max_usd:
                raise CapReached(
                    f"the next request could cost ${worst_usd:.6f}; ${self.max_usd - self.spent_usd:.6f} left"
                )
            self.reserved_usd += worst_usd

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        with self._lock:
            self.reserved_usd -= reserved_usd
            self.spent_usd += actual_usd


def worst_case_usd(model: str, request: StructuredRequest[Any], schema_chars: int) -> float:
    """An upper bound of what `request` can cost on `model` (ValueError for a model without a price)."""
    price = price_for(model)
    if price is None:
        raise ValueError(f"model {model!r} has no price in functions/summaries/pricing.py: no cap can hold")
    chars = len(request.system) + len(request.prompt) + schema_chars
    input_tokens = math.ceil(chars / CHARS_PER_TOKEN_BOUND)
    input_rate, output_rate = price.input, price.output
    if price.long_context_threshold is not None and input_tokens > price.long_context_threshold:
        input_rate, output_rate = price.long_input or input_rate, price.long_output or output_rate
    # cache writes cost more than plain input: bound with the dearer of the two
    input_rate = max(input_rate, price.cache_write)
    return (input_tokens * input_rate + request.max_tokens * output_rate) / 1_000_000


class CappedModel:
    """A language model that reserves each request's worst case before sending it and accounts what
    the API reported after; a request that could pass the cap raises `CapReached` unsent."""

    def __init__(self, model: LanguageModel, model_id: str, cap: CostCap) -> None:
        self._model = model
        self._model_id = model_id
        self._cap = cap

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        schema_chars = len(json.dumps(request.output.model_json_schema()))
        worst = worst_case_usd(self._model_id, request, schema_chars)
        self._cap.reserve(worst)
        actual = worst  # a failed request may still have been billed: count the reservation
        try:
            reply = self._model.structured(request)
            cost = request_cost(reply.model, reply.usage, bedrock_model_id=reply.bedrock_model_id)
            actual = worst if cost is None else cost
            if actual > worst:
                logger.warning(
                    "a request cost more than its bound", extra={"bound_usd": worst, "actual_usd": actual}
                )
            return reply
        finally:
            self._cap.settle(worst, actual)


@dataclass
class BackfillReport:
    version: str | None
    max_usd: float
    dry_run: bool
    days: list[str]
    seen: int = 0  # calls read in the window
    current: int = 0  # already answered against this question set
    not_summarised: int = 0  # no summary yet: the summaries Lambda will answer them
    answered: int = 0  # answers stored (dry run: would be asked)
    no_speech: int = 0  # stored unanswered without a model call
    failed: int = 0  # the model or the store failed for the call (left for a re-run)
    conflicts: int = 0  # someone stored this version meanwhile
    spent_usd: float = 0.0
    worst_case_usd: float = 0.0  # dry run: what the requests could cost at most
    stopped: Stopped = "done"
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    def lines(self) -> list[str]:
        verb = "would answer" if self.dry_run else "answered"
        return [
            f"question set {self.version}, days {self.days[0] if self.days else '-'}"
            f"..{self.days[-1] if self.days else '-'}",
            f"calls seen {self.seen}: already current {self.current}, not summarised yet "
            f"{self.not_summarised}, {verb} {self.answered}, no speech {self.no_speech}, "
            f"failed {self.failed}, conflicts {self.conflicts}",
            (
                f"worst case ${self.worst_case_usd:.6f} of cap ${self.max_usd:.6f}"
                if self.dry_run
                else f"spent ${self.spent_usd:.6f} of cap ${self.max_usd:.6f}"
            ),
            f"stopped: {self.stopped}" + (f" ({self.detail})" if self.detail else ""),
        ]


def window(since_days: int, until_days: int, today: date) -> list[str]:
    """UTC days from `since_days` ago to `until_days` ago, oldest first."""
    if since_days < until_days:
        raise ValueError("--since must be at least --until (both are days before today)")
    return [(today - timedelta(days=d)).isoformat() for d in range(since_days, until_days - 1, -1)]


class EvaluationBackfill:
    def __init__(
        self,
        settings: SummaryModelSettings,
        calls: EvaluationBackfillCalls,
        segments: SegmentReader,
        language_model: Callable[[], LanguageModel],
    ) -> None:
        self._settings = settings
        self._calls = calls
        self._segments = segments
        self._language_model = language_model

    def run(self, days: Sequence[str], max_usd: float, *, dry_run: bool = False) -> BackfillReport:
        settings = self._settings
        questions = settings.evaluations.questions
        version = settings.evaluations.version
        report = BackfillReport(version=version, max_usd=max_usd, dry_run=dry_run, days=list(days))
        if version is None:
            report.detail = "no EVALUATION_QUESTIONS configured"
            return report
        prompts = load_prompts(settings.summary_prompt_version)
        if not prompts.answers_questions:
            raise ValueError(f"prompt version {prompts.version!r} answers no evaluation questions")
        price_for_model = price_for(settings.summary_model)
        if price_for_model is None:
            raise ValueError(f"model {settings.summary_model!r} has no price: no cap can hold")
        cap = CostCap(max_usd)
        estimate = _Estimator(settings.summary_model) if dry_run else None
        model: LanguageModel | None = None
        for call in self._candidates(days, report):
            call_questions = applicable(questions, call.route)
            segments = self._segments.list_segments(call.call_sid)
            transcript = build_transcript(segments)
            if not transcript.has_speech or not call_questions:
                answers = no_answers(call_questions, NOT_ASKED)
                report.no_speech += 1
                if not dry_run:
                    self._store(call.call_sid, EvaluationSet(version, tuple(answers)), report)
                continue
            lines, redactor = redact_transcript(transcript, enabled=settings.summary_redaction)
            if estimate is not None:
                model = estimate
            elif model is None:
                model = CappedModel(self._language_model(), settings.summary_model, cap)
            summarizer = Summarizer(
                model,
                SummarizerConfig(
                    prompts=prompts,
                    token_budget=settings.summary_token_budget,
                    max_output_tokens=settings.summary_max_output_tokens,
                    map_concurrency=1,  # one request at a time: the cap stops between requests
                    questions=call_questions,
                ),
                lambda: min(settings.anthropic_timeout_seconds, REQUEST_TIMEOUT_SECONDS),
            )
            try:
                result = summarizer.evaluate(lines, call.language or transcript.language)
            except CapReached as exc:
                report.stopped, report.detail = "cap", f"{call.call_sid}: {exc}"
                break
            except _Estimated:
                report.answered += 1
                continue
            except SummaryError as exc:
                logger.warning(
                    "no answers for this call", extra={"call_sid": call.call_sid, "error": str(exc)}
                )
                report.failed += 1
                continue
            report.answered += 1
            if estimate is not None:
                continue
            raw = result.answers if redactor is None else redact_answers(result.answers, redactor)
            stored = store_answers(call_questions, raw, transcript.keys, answered_by(result.model))
            self._store(call.call_sid, EvaluationSet(version, tuple(stored.answers)), report)
        report.spent_usd = cap.spent_usd
        if estimate is not None:
            report.worst_case_usd = estimate.total_usd
            if estimate.total_usd > max_usd:
                report.stopped, report.detail = "cap", "the worst case of these calls exceeds the cap"
        return report

    def _candidates(self, days: Sequence[str], report: BackfillReport) -> Iterator[Call]:
        version = self._settings.evaluations.version
        for day in days:
            for call in self._calls.calls_started_on(day):
                report.seen += 1
                if call.evaluations_version == version:
                    report.current += 1
                elif call.summary is None:
                    report.not_summarised += 1
                else:
                    yield call

    def _store(self, call_sid: str, evaluations: EvaluationSet, report: BackfillReport) -> None:
        if not self._calls.save_evaluations(call_sid, evaluations):
            report.conflicts += 1


class _Estimator:
    """The dry run's model: adds up each call's first request's worst case and asks nothing (a
    long call's map-reduce makes more requests: the dry run bounds the single-request calls exactly
    and long ones from below)."""

    def __init__(self, model_id: str) -> None:
        self._model_id = model_id
        self.total_usd = 0.0

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        schema_chars = len(json.dumps(request.output.model_json_schema()))
        self.total_usd += worst_case_usd(self._model_id, request, schema_chars)
        raise _Estimated


class _Estimated(SummaryError):
    pass


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.summaries.backfill",
        description="Answer the evaluation questions for past calls, never spending past --max-usd.",
    )
    parser.add_argument("--max-usd", type=float, required=True, help="the cap: never spend more than this")
    parser.add_argument("--since", type=int, default=30, metavar="DAYS", help="oldest day, days ago (30)")
    parser.add_argument(
        "--until", type=int, default=0, metavar="DAYS", help="newest day, days ago (0: today)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count the calls and the worst case; ask nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not args.max_usd >= 0:
        parser.error("--max-usd must be a non-negative number")
    report = run_from_env(args.max_usd, args.since, args.until, dry_run=args.dry_run, environ=environ)
    print(json.dumps(report.as_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0


def run_from_env(
    max_usd: float, since: int, until: int, *, dry_run: bool, environ: dict[str, str] | None = None
) -> BackfillReport:
    from functions.summaries.anthropic_adapter import language_model as build_model
    from shared.dal.calls.summaries import DynamoEvaluationBackfillCalls
    from shared.dal.segments import DynamoSegments

    settings = SummaryModelSettings.from_env(environ)

    def language_model() -> LanguageModel:
        return build_model(settings, min(settings.anthropic_timeout_seconds, REQUEST_TIMEOUT_SECONDS))

    backfill = EvaluationBackfill(
        settings,
        DynamoEvaluationBackfillCalls(settings.calls_table),
        DynamoSegments(settings.transcripts_table),
        language_model,
    )
    days = window(since, until, datetime.now(UTC).date())
    return backfill.run(days, max_usd, dry_run=dry_run)


if __name__ == "__main__":
    sys.exit(main())
