"""The domain logic of one summary: read the call, build and redact the transcript, summarise, store
once, announce once. The handler calls `SummaryService.create` through Powertools idempotency.

Order matters for "nothing lost, nothing twice": the model is asked only when the call has no
summary yet; the summary is stored with a conditional write before the event is published; the
event is marked published last. A failure at any step raises, the idempotency record is released and
EventBridge retries, and the retry resumes from whatever is already stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from functions.summaries.errors import (
    DeadlineError,
    ModelRequestRejectedError,
    SummaryError,
    TranscriptIncompleteError,
)
from functions.summaries.llm import LanguageModel
from functions.summaries.models import (
    CallSummary,
    Outcome,
    RedactionReport,
    Sentiment,
    StoredSummary,
    TokenUsage,
    TranscriptCompletedDetail,
)
from functions.summaries.prompts import load_prompts
from functions.summaries.redaction import Redactor
from functions.summaries.settings import SummarySettings
from functions.summaries.store import SummaryStore
from functions.summaries.summarizer import Summarizer, SummarizerConfig
from functions.summaries.transcript import Transcript, build_transcript
from shared import clock
from shared.events import EventPublisher, SummaryCreated
from shared.observability import logger, metrics, tracer
from shared.repository import list_segments
from shared.status import TranscriptStatus

NO_MODEL = "none"  # the `model` of a summary no model wrote (a call without speech)
SAFETY_SECONDS = 5.0  # left for storing and publishing after the last model request
MIN_REQUEST_SECONDS = 5.0

Result = Literal["created", "no-conversation", "already-summarized", "event-republished"]


@dataclass(frozen=True)
class SummaryOutcome:
    call_sid: str
    result: Result
    model: str

    def as_dict(self) -> dict[str, Any]:
        return {"callSid": self.call_sid, "result": self.result, "model": self.model}


class SummaryService:
    def __init__(
        self,
        settings: SummarySettings,
        store: SummaryStore,
        publisher: EventPublisher,
        language_model: Callable[[], LanguageModel],
    ) -> None:
        """`language_model` is a factory, so the SDK is loaded only when a model call is needed."""
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._language_model = language_model

    def create(
        self, detail: TranscriptCompletedDetail, remaining_seconds: Callable[[], float]
    ) -> dict[str, Any]:
        call_sid = detail.call_sid
        record = self._store.get(call_sid)
        if record is not None and record.summary is not None:
            return self._resume(call_sid, record.summary, record.summary_event_at).as_dict()
        if record is None:
            logger.warning("no call record yet; the summary will create it", extra={"call_sid": call_sid})

        segments = list_segments(self._settings.transcripts_table, call_sid)
        if len(segments) < detail.segment_count:
            raise TranscriptIncompleteError(
                f"{call_sid}: {len(segments)} segments readable, the event announced {detail.segment_count}"
            )
        transcript = build_transcript(segments)
        if transcript.has_speech:
            stored = self._summarize(call_sid, transcript, len(segments), remaining_seconds)
            result: Result = "created"
        else:
            stored = self._no_conversation(detail, transcript, len(segments))
            result = "no-conversation"

        if not self._store.save(call_sid, stored):
            # Only reachable past the idempotency layer (an expired record, a DLQ replay racing a retry).
            logger.warning("a summary already exists; keeping it", extra={"call_sid": call_sid})
            metrics.add_metric(name="SummaryWriteConflicts", unit=MetricUnit.Count, value=1)
            return SummaryOutcome(call_sid, "already-summarized", stored.model).as_dict()
        self._announce(call_sid, stored.model)
        metrics.add_metric(name="SummariesCreated", unit=MetricUnit.Count, value=1)
        logger.info(
            "summary stored",
            extra={
                "call_sid": call_sid,
                "result": result,
                "model": stored.model,
                "chunks": stored.chunks,
                "usage": stored.usage.model_dump(),
                "estimated_cost_usd": stored.estimated_cost_usd,
                "redaction": stored.redaction.model_dump(),
            },
        )
        return SummaryOutcome(call_sid, result, stored.model).as_dict()

    def _resume(self, call_sid: str, summary: Any, event_at: str | None) -> SummaryOutcome:
        """The call has a summary: publish its event if a failed attempt still owes it, else nothing."""
        model = str(_summary_field(summary, "model") or NO_MODEL)
        if event_at is not None:
            logger.info("summary exists and was announced; nothing to do", extra={"call_sid": call_sid})
            return SummaryOutcome(call_sid, "already-summarized", model)
        logger.info("summary exists but its event is owed; publishing it", extra={"call_sid": call_sid})
        self._announce(call_sid, model)
        return SummaryOutcome(call_sid, "event-republished", model)

    def _announce(self, call_sid: str, model: str) -> None:
        self._publisher.publish(SummaryCreated(call_sid=call_sid, model=model))
        self._store.mark_event_published(call_sid)

    @tracer.capture_method
    def _summarize(
        self,
        call_sid: str,
        transcript: Transcript,
        segment_count: int,
        remaining_seconds: Callable[[], float],
    ) -> StoredSummary:
        settings = self._settings
        lines = [line.render() for line in transcript.lines]
        redaction = RedactionReport(enabled=settings.summary_redaction)
        if settings.summary_redaction:
            redactor = Redactor()
            texts = redactor.redact_lines(
                [line.speaker for line in transcript.lines], [line.text for line in transcript.lines]
            )
            lines = [
                replace(line, text=text).render() for line, text in zip(transcript.lines, texts, strict=True)
            ]
            redaction = RedactionReport(
                enabled=True, applied=bool(redactor.counts), counts=dict(redactor.counts)
            )

        def timeout() -> float:
            # Every attempt the SDK makes (1 + max_retries) must fit in the time the Lambda has left.
            attempts = settings.anthropic_max_retries + 1
            budget = (remaining_seconds() - SAFETY_SECONDS) / attempts
            if budget < MIN_REQUEST_SECONDS:
                raise DeadlineError(
                    f"{call_sid}: {remaining_seconds():.1f} s left, too little for a model request"
                )
            return min(settings.anthropic_timeout_seconds, budget)

        summarizer = Summarizer(
            self._language_model(),
            SummarizerConfig(
                prompts=load_prompts(settings.summary_prompt_version),
                token_budget=settings.summary_token_budget,
                max_output_tokens=settings.summary_max_output_tokens,
                map_concurrency=settings.summary_map_concurrency,
            ),
            timeout,
        )
        try:
            result = summarizer.summarize(lines, transcript.language)
        except ModelRequestRejectedError:
            logger.exception("the model rejected the request", extra={"call_sid": call_sid})
            metrics.add_metric(name="SummaryModelRejections", unit=MetricUnit.Count, value=1)
            raise
        except SummaryError:
            logger.exception("no summary this time; EventBridge will retry", extra={"call_sid": call_sid})
            metrics.add_metric(name="SummaryFailures", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name="SummaryModelRequests", unit=MetricUnit.Count, value=result.usage.requests)
        metrics.add_metric(name="SummaryInputTokens", unit=MetricUnit.Count, value=result.usage.input_tokens)
        metrics.add_metric(
            name="SummaryOutputTokens", unit=MetricUnit.Count, value=result.usage.output_tokens
        )
        return StoredSummary(
            **result.summary.model_dump(),
            model=result.model,
            prompt_version=settings.summary_prompt_version,
            usage=result.usage,
            estimated_cost_usd=result.estimated_cost_usd,
            redaction=redaction,
            chunks=result.chunks,
            segment_count=segment_count,
            created_at=clock.now_iso(),
        )

    def _no_conversation(
        self, detail: TranscriptCompletedDetail, transcript: Transcript, segment_count: int
    ) -> StoredSummary:
        failed = detail.transcript_status == TranscriptStatus.FAILED.value
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
        metrics.add_metric(name="SummariesWithoutSpeech", unit=MetricUnit.Count, value=1)
        return StoredSummary(
            **summary.model_dump(),
            model=NO_MODEL,
            prompt_version=NO_MODEL,
            usage=TokenUsage(),
            estimated_cost_usd=0.0,
            redaction=RedactionReport(enabled=self._settings.summary_redaction),
            chunks=0,
            segment_count=segment_count,
            no_conversation=True,
            created_at=clock.now_iso(),
        )


def _summary_field(summary: Any, name: str) -> Any:
    """A field of the stored summary map (pynamodb hands back a MapAttribute or a dict)."""
    if isinstance(summary, dict):
        return summary.get(name)
    return summary.as_dict().get(name) if hasattr(summary, "as_dict") else getattr(summary, name, None)
