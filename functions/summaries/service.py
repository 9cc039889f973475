"""The domain logic of one summary: read the call, build and redact the transcript, summarise, redact
what the model wrote, store once. The handler calls `SummaryService.create` (`Transcript Completed`)
or `SummaryService.rewrite` (`Transcript Reconciled`) through Powertools idempotency; every outside
thing is a port handed in.

What a change must keep: the model is asked only when the call has no summary (or, for a rewrite,
none of the current `transcript_version`); the summary is stored with a conditional write, which is
what the outbox announces as `Summary Created`; a failure raises, and the retry resumes from what is
stored. Why: docs/summaries.md, "Exactly once", "Rewritten once per transcript version".
Long (~430 lines): create, rewrite, evaluations and the no-speech path share the steps above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from functions.summaries import metric_names as names
from functions.summaries.errors import (
    DeadlineError,
    ModelRequestRejectedError,
    SummaryError,
    TranscriptIncompleteError,
)
from functions.summaries.evaluations import store_answers
from functions.summaries.inputs import TranscriptCompletedDetail, TranscriptReconciledDetail
from functions.summaries.llm import LanguageModel
from functions.summaries.prompts import load_prompts
from functions.summaries.redaction import redact_answers, redact_summary, redact_transcript
from functions.summaries.redaction import report as redaction_report
from functions.summaries.settings import SummarySettings
from functions.summaries.summarizer import Summarizer, SummarizerConfig, SummaryResult
from functions.summaries.summary import (
    CallSummary,
    Outcome,
    RedactionReport,
    Sentiment,
    StoredSummary,
    TokenUsage,
)
from functions.summaries.transcript import Transcript, build_transcript
from shared import clock
from shared.costs import record_cost
from shared.dal.ports import SegmentReader, SummaryCalls
from shared.dal.records import EvaluationSet
from shared.evaluations import NOT_ASKED, EvaluationQuestion, answered_by, applicable, no_answers
from shared.observability import logger, metrics, tracer
from shared.status import TranscriptStatus

NO_MODEL = "none"  # the `model` of a summary no model wrote (a call without speech)
SAFETY_SECONDS = 5.0  # left for storing the summary after the last model request
MIN_REQUEST_SECONDS = 5.0

Result = Literal[
    "created",
    "no-conversation",
    "already-summarized",
    "rewritten",
    "no-summary-yet",
    "nothing-added",
    "already-current",
]


class MetricSink(Protocol):
    """What the service records metrics with (Powertools' `Metrics` in the Lambda, a list in tests)."""

    def add_metric(self, *, name: str, unit: MetricUnit, value: float) -> None: ...


@dataclass(frozen=True)
class SummaryOutcome:
    call_sid: str
    result: Result
    model: str

    def as_dict(self) -> dict[str, Any]:
        return {"callSid": self.call_sid, "result": self.result, "model": self.model}


@dataclass(frozen=True)
class Written:
    """A summary to store, and the evaluation answers that go in the same write (None: no questions)."""

    summary: StoredSummary
    evaluations: EvaluationSet | None


class SummaryService:
    def __init__(
        self,
        settings: SummarySettings,
        calls: SummaryCalls,
        segments: SegmentReader,
        language_model: Callable[[], LanguageModel],
        *,
        now: Callable[[], str] = clock.now_iso,
        metric_sink: MetricSink = metrics,
    ) -> None:
        """`language_model` is a factory, so the SDK is loaded only when a model call is needed."""
        self._settings = settings
        self._calls = calls
        self._segments = segments
        self._language_model = language_model
        self._now = now
        self._metrics = metric_sink

    def create(
        self, detail: TranscriptCompletedDetail, remaining_seconds: Callable[[], float]
    ) -> dict[str, Any]:
        call_sid = detail.call_sid
        call = self._calls.get(call_sid)
        if call is not None and call.summary is not None:
            logger.info("summary exists; nothing to do", extra={"call_sid": call_sid})
            self._update_cost(call_sid)  # a retry after a failed cost write, or a later transcript end
            return SummaryOutcome(call_sid, "already-summarized", _model(call.summary)).as_dict()
        if call is None:
            logger.warning("no call record yet; the summary will create it", extra={"call_sid": call_sid})

        segments = self._segments.list_segments(call_sid)
        if len(segments) < detail.segment_count:
            raise TranscriptIncompleteError(
                f"{call_sid}: {len(segments)} segments readable, the event announced {detail.segment_count}"
            )
        transcript = build_transcript(segments)
        version = call.transcript_version if call is not None else None
        language = (call.language if call is not None else None) or transcript.language
        questions = self._questions(call.route if call is not None else None)
        if transcript.has_speech:
            try:
                written = self._summarize(
                    call_sid, transcript, len(segments), remaining_seconds, language, version, questions
                )
            except ModelRequestRejectedError:
                # the model refuses this request for good: retries (and the DLQ) follow, but the
                # record says now that no summary is coming; a later success replaces the mark
                self._calls.summary_failed(call_sid)
                raise
            result: Result = "created"
        else:
            failed = detail.transcript_status == TranscriptStatus.FAILED.value
            written = self._no_conversation(failed, transcript, len(segments), version, questions)
            result = "no-conversation"
        stored = written.summary

        if not self._calls.save_summary(
            call_sid, stored.to_attribute(), stored.created_at, written.evaluations
        ):
            # Only reachable past the idempotency layer (an expired record, a DLQ replay racing a retry).
            logger.warning("a summary already exists; keeping it", extra={"call_sid": call_sid})
            self._count(names.WRITE_CONFLICTS)
            return SummaryOutcome(call_sid, "already-summarized", stored.model).as_dict()
        self._update_cost(call_sid)
        self._count(names.CREATED)
        self._log_stored(call_sid, result, stored)
        return SummaryOutcome(call_sid, result, stored.model).as_dict()

    def rewrite(
        self, detail: TranscriptReconciledDetail, remaining_seconds: Callable[[], float]
    ) -> dict[str, Any]:
        """After a reconciliation: rewrite the summary from the final transcript when the recording
        added words and the summary was written from another transcript version; else no model call.

        The call record, not the event, says what is current (`transcript_version`,
        `filled_seconds`): an older event arriving after a newer reconciliation changes nothing twice.
        """
        call_sid = detail.call_sid
        call = self._calls.get(call_sid)
        if call is None or call.summary is None:
            # Transcript Completed's summary has not been written: it will read the final transcript
            # and name its version itself.
            logger.info("no summary yet; nothing to rewrite", extra={"call_sid": call_sid})
            return SummaryOutcome(call_sid, "no-summary-yet", NO_MODEL).as_dict()
        current = call.transcript_version or detail.transcript_version
        summarised = call.summary.get("transcript_version")
        model = _model(call.summary)
        if summarised == current:
            logger.info("the summary is of the current transcript already", extra={"call_sid": call_sid})
            return SummaryOutcome(call_sid, "already-current", model).as_dict()
        filled = call.filled_seconds if call.filled_seconds is not None else detail.filled_seconds
        if not filled > 0:
            logger.info(
                "the recording added no words; the summary stands",
                extra={"call_sid": call_sid, "transcript_version": current},
            )
            return SummaryOutcome(call_sid, "nothing-added", model).as_dict()

        segments = self._segments.list_segments(call_sid)
        if current == detail.transcript_version and len(segments) < detail.segment_count:
            raise TranscriptIncompleteError(
                f"{call_sid}: {len(segments)} segments readable, the event announced {detail.segment_count}"
            )
        transcript = build_transcript(segments)
        language = call.language or transcript.language
        questions = self._questions(call.route)
        if transcript.has_speech:
            written = self._summarize(
                call_sid, transcript, len(segments), remaining_seconds, language, current, questions
            )
        else:
            written = self._no_conversation(False, transcript, len(segments), current, questions)
        stored = written.summary
        if not self._calls.replace_summary(
            call_sid, stored.to_attribute(), stored.created_at, current, written.evaluations
        ):
            logger.warning(
                "this transcript version is summarised already; keeping it", extra={"call_sid": call_sid}
            )
            self._count(names.WRITE_CONFLICTS)
            return SummaryOutcome(call_sid, "already-summarized", stored.model).as_dict()
        self._update_cost(call_sid)  # the rewrite's model call is the summary's estimate now
        self._count(names.REWRITTEN)
        self._log_stored(call_sid, "rewritten", stored)
        return SummaryOutcome(call_sid, "rewritten", stored.model).as_dict()

    def _update_cost(self, call_sid: str) -> None:
        """Recompute the call's cost now the summary's estimate is stored (shared.costs: never
        raises; a failure is logged and counted, and a later writer recomputes it)."""

        def failed(message: str) -> None:
            logger.warning(message, extra={"call_sid": call_sid})
            self._count(names.COST_WRITE_FAILURES)

        record_cost(self._calls, call_sid, self._settings.costs.call_prices, now=self._now, on_error=failed)

    def _log_stored(self, call_sid: str, result: Result, stored: StoredSummary) -> None:
        logger.info(
            "summary stored",
            extra={
                "call_sid": call_sid,
                "result": result,
                "model": stored.model,
                "transcript_version": stored.transcript_version,
                "chunks": stored.chunks,
                "usage": stored.usage.model_dump(),
                "estimated_cost_usd": stored.estimated_cost_usd,
                "redaction": stored.redaction.model_dump(),
            },
        )

    @tracer.capture_method
    def _summarize(
        self,
        call_sid: str,
        transcript: Transcript,
        segment_count: int,
        remaining_seconds: Callable[[], float],
        language: str | None,
        transcript_version: str | None,
        questions: tuple[EvaluationQuestion, ...],
    ) -> Written:
        """`language`: the call's route language when it names one, else what the recogniser heard."""
        settings = self._settings
        lines, redactor = redact_transcript(transcript, enabled=settings.summary_redaction)
        timeout = request_timeout(
            call_sid,
            remaining_seconds,
            attempts=settings.anthropic_max_retries + 1,
            longest=settings.anthropic_timeout_seconds,
        )
        result = self._ask(call_sid, self._summarizer(timeout, questions), lines, language)
        self._count_usage(result)
        if redactor is not None:  # what the model wrote: the summary's text and its answers
            result = replace(
                result,
                summary=redact_summary(result.summary, redactor),
                answers=redact_answers(result.answers, redactor),
            )
        summary = StoredSummary(
            **result.summary.model_dump(),
            model=result.model,
            prompt_version=settings.summary_prompt_version,
            usage=result.usage,
            estimated_cost_usd=result.estimated_cost_usd,
            redaction=redaction_report(redactor),
            chunks=result.chunks,
            segment_count=segment_count,
            created_at=self._now(),
            transcript_version=transcript_version,
        )
        return Written(summary, self._evaluations(call_sid, result, transcript, questions))

    def _questions(self, route: str | None) -> tuple[EvaluationQuestion, ...]:
        """The configured questions that apply to a call on `route`."""
        return applicable(self._settings.evaluations.questions, route)

    def _evaluations(
        self,
        call_sid: str,
        result: SummaryResult,
        transcript: Transcript,
        questions: tuple[EvaluationQuestion, ...],
    ) -> EvaluationSet | None:
        """The answers to store with the summary; None when no question set is configured (or the
        prompt version answers none: then the call keeps no `evaluations_version`, and the backfill
        answers it once the prompt version does)."""
        version = self._settings.evaluations.version
        if version is None:
            return None
        if questions and not result.asked:
            logger.warning(
                "the prompt version answers no evaluation questions; none stored",
                extra={"call_sid": call_sid, "prompt_version": self._settings.summary_prompt_version},
            )
            return None
        answers = store_answers(questions, result.answers, transcript.keys, answered_by(result.model))
        self._count(names.EVALUATION_ANSWERS, answers.answered)
        if answers.refused:
            logger.warning(
                "evaluation answers outside their question's type or bounds; stored as no answer",
                extra={"call_sid": call_sid, "refused": answers.refused},
            )
            self._count(names.EVALUATION_ANSWERS_REFUSED, answers.refused)
        return EvaluationSet(version=version, answers=tuple(answers.answers))

    def _summarizer(
        self, timeout: Callable[[], float], questions: tuple[EvaluationQuestion, ...] = ()
    ) -> Summarizer:
        settings = self._settings
        return Summarizer(
            self._language_model(),
            SummarizerConfig(
                prompts=load_prompts(settings.summary_prompt_version),
                token_budget=settings.summary_token_budget,
                max_output_tokens=settings.summary_max_output_tokens,
                map_concurrency=settings.summary_map_concurrency,
                questions=questions,
            ),
            timeout,
        )

    def _ask(
        self, call_sid: str, summarizer: Summarizer, lines: list[str], language: str | None
    ) -> SummaryResult:
        """The summarizer's answer; a failure is logged and counted by kind, then raised for a retry."""
        try:
            return summarizer.summarize(lines, language)
        except ModelRequestRejectedError:
            logger.exception("the model rejected the request", extra={"call_sid": call_sid})
            self._count(names.MODEL_REJECTIONS)
            raise
        except SummaryError:
            logger.exception("no summary this time; EventBridge will retry", extra={"call_sid": call_sid})
            self._count(names.FAILURES)
            raise

    def _count_usage(self, result: SummaryResult) -> None:
        self._count(names.MODEL_REQUESTS, result.usage.requests)
        self._count(names.INPUT_TOKENS, result.usage.input_tokens)
        self._count(names.OUTPUT_TOKENS, result.usage.output_tokens)

    def _count(self, name: str, value: float = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def _no_conversation(
        self,
        failed: bool,
        transcript: Transcript,
        segment_count: int,
        transcript_version: str | None,
        questions: tuple[EvaluationQuestion, ...] = (),
    ) -> Written:
        text = (
            "No transcript is available: transcription failed for this call."
            if failed
            else "No conversation: no speech was recognised on this call."
        )
        summary = CallSummary(
            summary=text,
            topics=[],
            caller_intent="unknown",
            outcome=Outcome.NO_CONVERSATION,
            sentiment=Sentiment.NEUTRAL,
            action_items=[],
            follow_up_needed=False,
            language=transcript.language or "und",
        )
        self._count(names.WITHOUT_SPEECH)
        version = self._settings.evaluations.version
        evaluations = (
            None
            if version is None
            else EvaluationSet(version=version, answers=tuple(no_answers(questions, NOT_ASKED)))
        )
        stored = StoredSummary(
            **summary.model_dump(),
            model=NO_MODEL,
            prompt_version=NO_MODEL,
            usage=TokenUsage(),
            estimated_cost_usd=0.0,
            redaction=RedactionReport(enabled=self._settings.summary_redaction),
            chunks=0,
            segment_count=segment_count,
            no_conversation=True,
            created_at=self._now(),
            transcript_version=transcript_version,
        )
        return Written(stored, evaluations)


def _model(summary: dict[str, Any]) -> str:
    """The stored summary's model (`none` for one no model wrote)."""
    return str(summary.get("model") or NO_MODEL)


def request_timeout(
    call_sid: str, remaining_seconds: Callable[[], float], *, attempts: int, longest: float
) -> Callable[[], float]:
    """The timeout of each model request, from the time the Lambda has left when it is made.

    Every attempt the SDK makes (`attempts` = 1 + its retries) must fit in that time, less
    SAFETY_SECONDS kept for storing; below MIN_REQUEST_SECONDS a request is not
    worth starting, so DeadlineError is raised instead (EventBridge redelivers to a fresh Lambda).
    """

    def timeout() -> float:
        budget = (remaining_seconds() - SAFETY_SECONDS) / attempts
        if budget < MIN_REQUEST_SECONDS:
            raise DeadlineError(
                f"{call_sid}: {remaining_seconds():.1f} s left, too little for a model request"
            )
        return min(longest, budget)

    return timeout
