"""`SummaryService` on in-memory ports: every path of one summary, without moto or a model server.

tests/integration/test_summaries_handler.py runs the same service through the real handler, moto
and the Anthropic stand-in; these pin the decisions (what is asked, stored, retried). What the outbox
announces of the stored summary is read from the fake table's stream (`tests.support.fake_outbox`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.summaries.errors import (
    DeadlineError,
    ModelRequestRejectedError,
    ModelUnavailableError,
    TranscriptIncompleteError,
)
from functions.summaries.inputs import TranscriptCompletedDetail
from functions.summaries.llm import StructuredRequest
from functions.summaries.redaction import redact_transcript, report
from functions.summaries.service import NO_MODEL, SummaryService, request_timeout
from functions.summaries.settings import SummarySettings
from functions.summaries.summary import CallSummary
from functions.summaries.transcript import build_transcript
from shared.dal.keys import segment_key
from shared.dal.records import Segment
from shared.events import SummaryCreated
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.summaries import FakeSummaryCalls
from tests.support.fake_outbox import announced
from tests.support.fake_segments import FakeSegments
from tests.unit.summaries.builders import FakeModel, a_summary

SID = "CA" + "5" * 32
CREATED_AT = "2026-11-22T09:32:00.000Z"
ENV = {
    "CALLS_TABLE": "calls",
    "TRANSCRIPTS_TABLE": "segments",
    "IDEMPOTENCY_TABLE": "idempotency",
    "ANTHROPIC_API_KEY": "sk-test",
}
CARD = "4111 1111 1111 1111"
CONVERSATION = [
    (1.0, "inbound", "caller", "Hi, I'd like to move my appointment to Friday."),
    (4.5, "outbound", "callee", "Sure. The card on file, please?"),
    (8.0, "inbound", "caller", f"It's {CARD}."),
]


def segments(call_sid: str, lines: list[tuple[float, str, str, str]]) -> list[Segment]:
    return [
        Segment(
            call_sid=call_sid,
            segment_key=segment_key(start, track),
            track=track,
            speaker=speaker,
            text=text,
            start=start,
            end=start + 3,
            language="en",
        )
        for start, track, speaker, text in lines
    ]


@dataclass
class Metrics:
    added: list[tuple[str, float]] = field(default_factory=list)

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.added.append((name, value))

    def names(self) -> list[str]:
        return [name for name, _ in self.added]


@dataclass
class Rig:
    calls: FakeSummaryCalls
    segments: FakeSegments
    model: FakeModel
    metrics: Metrics
    service: SummaryService
    model_built: list[int]

    def create(
        self, segment_count: int, remaining: float = 300.0, status: str = "completed"
    ) -> dict[str, Any]:
        detail = TranscriptCompletedDetail.model_validate(
            {"callSid": SID, "segmentCount": segment_count, "transcriptStatus": status}
        )
        return self.service.create(detail, lambda: remaining)

    @property
    def stored(self) -> dict[str, Any]:
        return self.calls.items[SID]

    @property
    def announced(self) -> list[SummaryCreated]:
        """The `Summary Created` events the outbox announces for the writes so far."""
        return [e for e in announced(self.calls.table) if isinstance(e, SummaryCreated)]


def rig(
    lines: list[tuple[float, str, str, str]] = CONVERSATION,
    answer: Callable[[StructuredRequest[Any]], CallSummary] | None = None,
    **env: str,
) -> Rig:
    calls, store = FakeSummaryCalls(), FakeSegments(segments(SID, lines))
    metrics = Metrics()
    model = FakeModel(model="claude-haiku-5-5-20261007") if answer is None else FakeModel(answer=answer)
    built: list[int] = []

    def language_model() -> FakeModel:
        built.append(1)
        return model

    service = SummaryService(
        SummarySettings.from_env({**ENV, **env}),
        calls,
        store,
        language_model,
        now=lambda: CREATED_AT,
        metric_sink=metrics,
    )
    return Rig(calls, store, model, metrics, service, built)


def test_created_stores_the_summary_once_then_announces_it() -> None:
    r = rig()
    outcome = r.create(len(CONVERSATION))

    assert outcome == {"callSid": SID, "result": "created", "model": "claude-haiku-5-5-20261007"}
    [request] = r.model.requests
    assert CARD not in request.prompt
    assert "[00:00:08] caller: It's [REDACTED CARD]." in request.prompt
    summary = r.stored["summary"]
    assert summary["summary"] == a_summary().summary
    assert summary["model"] == "claude-haiku-5-5-20261007"
    assert summary["segment_count"] == len(CONVERSATION)
    assert summary["redaction"] == {"enabled": True, "applied": True, "counts": {"CARD": 1}}
    assert summary["created_at"] == CREATED_AT
    assert r.stored["summary_status"] == "completed"
    assert r.announced == [SummaryCreated(call_sid=SID, model="claude-haiku-5-5-20261007")]
    assert r.metrics.names() == [
        "SummaryModelRequests",
        "SummaryInputTokens",
        "SummaryOutputTokens",
        "SummariesCreated",
    ]


def test_no_conversation_is_summarised_without_building_the_model() -> None:
    r = rig(lines=[(0.5, "inbound", "caller", "  ")])
    assert r.create(1) == {"callSid": SID, "result": "no-conversation", "model": NO_MODEL}
    assert r.model_built == []
    summary = r.stored["summary"]
    assert (summary["no_conversation"], summary["outcome"], summary["model"]) == (
        True,
        "no_conversation",
        "none",
    )
    assert summary["summary"].startswith("No conversation")
    assert [e.model for e in r.announced] == ["none"]
    assert "SummariesWithoutSpeech" in r.metrics.names()


def test_failed_transcription_says_so() -> None:
    r = rig(lines=[])
    assert r.create(0, status="failed")["result"] == "no-conversation"
    assert "transcription failed" in r.stored["summary"]["summary"]


def test_already_summarised_changes_nothing() -> None:
    r = rig()
    r.calls.items[SID] = {"call_sid": SID, "summary": {"model": "m-1"}}
    assert r.create(len(CONVERSATION)) == {"callSid": SID, "result": "already-summarized", "model": "m-1"}
    assert r.model_built == []
    assert r.announced == []


def test_transcript_not_yet_readable_raises_before_the_model() -> None:
    r = rig(lines=CONVERSATION[:2])
    with pytest.raises(TranscriptIncompleteError, match="2 segments readable, the event announced 3"):
        r.create(3)
    assert r.model_built == []
    assert SID not in r.calls.items
    assert r.announced == []


def test_save_conflict_keeps_the_existing_summary_and_publishes_nothing() -> None:
    """A concurrent delivery (past the idempotency layer) stores its summary while this one asks."""
    holder: list[Rig] = []

    def answer(request: StructuredRequest[Any]) -> CallSummary:
        holder[0].calls.items.setdefault(SID, {"call_sid": SID})["summary"] = {"model": "the-other"}
        return a_summary()

    r = rig(answer=answer)
    holder.append(r)
    outcome = r.create(len(CONVERSATION))

    assert outcome["result"] == "already-summarized"
    assert r.stored["summary"] == {"model": "the-other"}
    assert r.announced == []  # this delivery stored nothing: the other's write is the one announced
    assert "SummaryWriteConflicts" in r.metrics.names()
    assert "SummariesCreated" not in r.metrics.names()


def test_a_retry_after_the_summary_was_stored_asks_nothing_and_it_stays_announced_once() -> None:
    """A failure after the write (the Lambda's time running out, its cost write) is retried by
    EventBridge: the summary is there, so no model call and no second write (nor announcement)."""
    r = rig()
    r.create(len(CONVERSATION))
    assert r.create(len(CONVERSATION))["result"] == "already-summarized"
    assert len(r.model.requests) == 1
    assert r.announced == [SummaryCreated(call_sid=SID, model="claude-haiku-5-5-20261007")]


def test_too_little_time_left_raises_before_asking_and_stores_nothing() -> None:
    r = rig()
    with pytest.raises(DeadlineError, match="too little for a model request"):
        r.create(len(CONVERSATION), remaining=12.0)
    assert r.model.requests == []
    assert SID not in r.calls.items
    assert "SummaryFailures" in r.metrics.names()


def test_redaction_can_be_switched_off() -> None:
    r = rig(SUMMARY_REDACTION="false")
    r.create(len(CONVERSATION))
    assert CARD in r.model.requests[0].prompt
    assert r.stored["summary"]["redaction"] == {"enabled": False, "applied": False, "counts": {}}


def test_redact_step_reports_counts_only() -> None:
    transcript = build_transcript(segments(SID, CONVERSATION))
    lines, redactor = redact_transcript(transcript, enabled=True)
    assert lines[2] == "[00:00:08] caller: It's [REDACTED CARD]."
    done = report(redactor)
    assert (done.enabled, done.applied, done.counts) == (True, True, {"CARD": 1})
    lines, redactor = redact_transcript(transcript, enabled=False)
    assert lines == [line.render() for line in transcript.lines]
    assert redactor is None
    assert not report(None).enabled


def test_request_timeout_splits_the_time_left_between_every_attempt() -> None:
    left = [65.0]
    timeout = request_timeout(SID, lambda: left[0], attempts=3, longest=60.0)
    assert timeout() == 20.0  # (65 - 5 kept for storing and publishing) / 3 attempts
    left[0] = 500.0
    assert timeout() == 60.0  # never above the configured timeout
    left[0] = 19.0
    with pytest.raises(DeadlineError):
        timeout()


def test_a_stored_summary_prices_the_call_with_what_the_streamer_used() -> None:
    from shared.dal.records import StreamUsage

    r = rig(CALL_PRICES='{"deepgram_live_per_minute": 0.01, "as_of": "2027-01-01"}')
    r.calls.items.setdefault(SID, {"call_sid": SID})["stream_owner"] = "the-stream"  # as its claim left it
    FakeStreamCalls(r.calls.table).record_stream_usage(
        StreamUsage(call_sid=SID, live_audio_seconds=120.0), "the-stream"
    )
    r.create(len(CONVERSATION))
    cost = r.stored["cost"]
    assert cost["claude_usd"] == round(r.stored["summary"]["estimated_cost_usd"], 6)
    assert cost["deepgram_live_usd"] == 0.02  # 2 track-minutes at the configured price
    assert (cost["prices_as_of"], cost["estimated_at"]) == ("2027-01-01", CREATED_AT)

    # a redelivery finds the summary stored: no model call, but the cost is brought up to date
    FakeStreamCalls(r.calls.table).record_stream_usage(
        StreamUsage(call_sid=SID, live_audio_seconds=180.0), "the-stream"
    )
    assert r.create(len(CONVERSATION))["result"] == "already-summarized"
    assert len(r.model.requests) == 1
    assert r.stored["cost"]["deepgram_live_usd"] == 0.03


def test_a_request_the_model_refuses_for_good_marks_the_summary_failed_and_raises() -> None:
    def refuse(request: StructuredRequest[Any]) -> CallSummary:
        raise ModelRequestRejectedError("HTTP 400: prompt is too long")

    r = rig(answer=refuse)
    r.calls.items[SID] = {"call_sid": SID}  # the record the webhooks and the streamer wrote
    with pytest.raises(ModelRequestRejectedError):  # raised: retries, then the DLQ and its alarm
        r.create(len(CONVERSATION))
    assert r.stored["summary_status"] == "failed"
    assert "summary" not in r.stored
    assert r.announced == []

    r.model.answer = lambda request: a_summary()  # fixed (an operator's DLQ redrive): completed
    assert r.create(len(CONVERSATION))["result"] == "created"
    assert r.stored["summary_status"] == "completed"


def test_a_failure_a_retry_may_cure_leaves_the_status_to_the_retry() -> None:
    def overloaded(request: StructuredRequest[Any]) -> CallSummary:
        raise ModelUnavailableError("529 overloaded after retries")

    r = rig(answer=overloaded)
    with pytest.raises(ModelUnavailableError):
        r.create(len(CONVERSATION))
    assert "summary_status" not in r.calls.items.get(SID, {})  # the sweeper marks it if no retry succeeds
