"""The summaries Lambda end to end: real-shaped EventBridge events into `handler`, transcripts and
call records in moto (real pynamodb models), the Anthropic stand-in behind the real SDK (and once the
Bedrock stand-in, MODEL_PROVIDER=bedrock), and the events the outbox announces of its writes read
back from the bus."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import ValidationError

from callscribe_local.anthropic_replies import Reply, ScriptedResponder
from callscribe_local.anthropic_server import AnthropicServer
from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.bedrock_server import BedrockServer
from callscribe_local.offline_summarizer import OFFLINE_MODEL, OfflineSummarizer
from functions.summaries.errors import DeadlineError, ModelRequestRejectedError, TranscriptIncompleteError
from shared.dal.keys import segment_key
from shared.dal.tables import CallRecord, calls_model, segments_model
from shared.observability import logger
from tests.support.model_servers import model_env
from tests.support.summaries_lambda import Summaries
from tests.unit.summaries.builders import a_summary, transcript_completed_event

pytestmark = pytest.mark.integration

API_KEY = "sk-ant-test-key"
CARD = "4111 1111 1111 1111"
CONVERSATION = [
    (1.0, "inbound", "caller", "Hi, I'd like to move my appointment from Tuesday to Friday."),
    (4.5, "outbound", "callee", "Of course. Can I have the card on file to confirm?"),
    (8.2, "inbound", "caller", f"Sure, it's {CARD}."),
    (12.0, "outbound", "callee", "Thanks, you're booked for Friday at 10:30. I'll email a confirmation."),
]


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[AnthropicServer]:
    with AnthropicServer(ScriptedResponder(), api_key=API_KEY) as server:
        yield server


@pytest.fixture
def scripted(anthropic_server: AnthropicServer) -> ScriptedResponder:
    responder = ScriptedResponder()
    anthropic_server.responder = responder
    anthropic_server.clear()
    return responder


@pytest.fixture
def summaries(local_stack: LocalAws, anthropic_server: AnthropicServer) -> Summaries:
    """The summaries' environment: the contract's names (from local_stack) plus the Anthropic key and URL."""
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": anthropic_server.base_url,
        "ANTHROPIC_MAX_RETRIES": "2",
    }
    return Summaries(env)


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    """Records the Powertools logger emits (it writes JSON to stdout; this sees the records)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    target = logging.getLogger(logger.name)
    handler = Collect()
    target.addHandler(handler)
    yield records
    target.removeHandler(handler)


def store_call(stack: LocalAws, call_sid: str, conversation: list[tuple[float, str, str, str]]) -> None:
    calls_model(stack.names.calls_table)(call_sid, status="completed", direction="inbound").save()
    segments = segments_model(stack.names.transcripts_table)
    with segments.batch_write() as batch:
        for start, track, speaker, text in conversation:
            batch.save(
                segments(
                    call_sid,
                    segment_key(start, track),
                    track=track,
                    speaker=speaker,
                    text=text,
                    start=start,
                    end=start + 3,
                    language="en",
                )
            )


def record(stack: LocalAws, call_sid: str) -> CallRecord:
    return calls_model(stack.names.calls_table).get(call_sid, consistent_read=True)


def summary_events(bus_tap: BusTap, call_sid: str) -> list[dict[str, Any]]:
    return [
        e for e in bus_tap.events_for(call_sid, wait_seconds=0.5) if e["detail-type"] == "Summary Created"
    ]


def summary_reply(**usage: int) -> Reply:
    return Reply.json(
        a_summary(follow_up_needed=True).model_dump(mode="json"),
        model="claude-haiku-5-5-20261007",
        usage=usage or {"input_tokens": 900, "output_tokens": 150},
    )


def test_summary_is_stored_with_accounting_and_announced_once(
    summaries: Summaries,
    local_stack: LocalAws,
    bus_tap: BusTap,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(summary_reply())
    event = transcript_completed_event(call_sid, len(CONVERSATION))

    assert summaries.invoke(event) == {
        "callSid": call_sid,
        "result": "created",
        "model": "claude-haiku-5-5-20261007",
    }

    stored = record(local_stack, call_sid)
    assert stored.summary_status == "completed"
    summary = stored.summary.as_dict()
    assert summary["summary"] == a_summary().summary
    assert summary["model"] == "claude-haiku-5-5-20261007"
    assert summary["prompt_version"] == "v3"
    assert summary["usage"] == {
        "requests": 1,
        "input_tokens": 900,
        "output_tokens": 150,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    assert summary["estimated_cost_usd"] == pytest.approx((900 * 0.10 + 150 * 0.50) / 1e6)
    assert summary["redaction"] == {"enabled": True, "applied": True, "counts": {"CARD": 1}}
    assert summary["language"] == "en"
    assert summary["chunks"] == 1
    assert summary["follow_up_needed"] is True

    [request] = anthropic_server.requests
    sent = request.user_text
    assert CARD not in sent
    assert "4111" not in sent
    assert "[00:00:08] caller: Sure, it's [REDACTED CARD]." in sent
    assert "[00:00:04] callee: Of course." in sent
    assert "10:30" in sent

    [published] = summary_events(bus_tap, call_sid)
    assert published["source"] == "callscribe"
    assert published["detail"] == {"callSid": call_sid, "model": "claude-haiku-5-5-20261007"}

    # Redelivery of the same event, and a second copy with a new id: no model call, no event.
    assert summaries.invoke(event)["result"] == "created"
    assert summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))["result"] == "created"
    assert len(anthropic_server.requests) == 1
    assert len(summary_events(bus_tap, call_sid)) == 1


def test_on_bedrock_the_same_summary_is_asked_with_the_role_and_priced_by_its_route(
    local_stack: LocalAws, bus_tap: BusTap, call_sid: str
) -> None:
    """MODEL_PROVIDER=bedrock: no Anthropic key anywhere in the environment, the same redacted prompt
    and stored summary, its cost at the US inference profile's price (list price + 10 %)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANTHROPIC_")}
    store_call(local_stack, call_sid, CONVERSATION)
    with BedrockServer(ScriptedResponder(summary_reply())) as bedrock:
        summaries = Summaries({**env, **model_env(bedrock)})
        event = transcript_completed_event(call_sid, len(CONVERSATION))
        outcome = summaries.invoke(event)
        assert summaries.invoke(event)["result"] == "created"  # redelivered: no second request
        [sent] = bedrock.invocations
        [request] = bedrock.requests

    assert outcome == {"callSid": call_sid, "result": "created", "model": "claude-haiku-5-5-20261007"}
    assert (sent.model_id, sent.streamed) == ("us.anthropic.claude-haiku-5-5", False)
    assert "[00:00:08] caller: Sure, it's [REDACTED CARD]." in request.user_text
    assert CARD not in request.user_text
    stored = record(local_stack, call_sid)
    summary = stored.summary.as_dict()
    assert summary["model"] == "claude-haiku-5-5-20261007"
    assert summary["estimated_cost_usd"] == pytest.approx((900 * 0.10 + 150 * 0.50) / 1e6 * 1.1)
    assert stored.cost is not None
    assert float(stored.cost.as_dict()["claude_usd"]) == pytest.approx(
        summary["estimated_cost_usd"], abs=1e-6
    )
    [published] = summary_events(bus_tap, call_sid)
    assert published["detail"] == {"callSid": call_sid, "model": "claude-haiku-5-5-20261007"}


def test_late_duplicate_past_the_idempotency_window_changes_nothing(
    summaries: Summaries,
    local_stack: LocalAws,
    bus_tap: BusTap,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(summary_reply())
    summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))
    before = record(local_stack, call_sid).summary.as_dict()

    # The idempotency record expires (or a DLQ replay comes a day later): the conditional write holds.
    table = boto3.resource("dynamodb").Table(local_stack.names.idempotency_table)
    for item in table.scan()["Items"]:
        table.delete_item(Key={"id": item["id"]})
    outcome = summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))

    assert outcome["result"] == "already-summarized"
    assert len(anthropic_server.requests) == 1
    assert record(local_stack, call_sid).summary.as_dict() == before
    assert len(summary_events(bus_tap, call_sid)) == 1


# Threads share one process's Metrics; whichever flushes first takes the others' metrics with it.
# Lambda never runs two invocations in one process, so the "no metrics" warning is a test artefact.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_concurrent_deliveries_make_one_model_call_and_one_event(
    summaries: Summaries,
    local_stack: LocalAws,
    bus_tap: BusTap,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    answered = threading.Event()

    def slow(request: Any) -> Reply:
        answered.wait(timeout=2)  # hold the first request until every delivery has started
        return summary_reply()

    scripted.push(slow)
    event = transcript_completed_event(call_sid, len(CONVERSATION))
    summaries.runtime()  # build the shared runtime once, as a warm container would have it
    barrier = threading.Barrier(3)
    outcomes: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            outcomes.append(summaries.invoke(event))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    barrier_passed = threading.Timer(0.5, answered.set)
    barrier_passed.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(anthropic_server.requests) == 1
    assert outcomes
    assert all(o["result"] == "created" for o in outcomes)
    assert all(isinstance(e, IdempotencyAlreadyInProgressError) for e in errors)
    assert len(outcomes) + len(errors) == 3
    assert len(summary_events(bus_tap, call_sid)) == 1
    # EventBridge retries the deliveries that found the work in progress: they get the stored outcome.
    assert summaries.invoke(event)["result"] == "created"
    assert len(anthropic_server.requests) == 1


def test_overloaded_model_is_retried_by_the_sdk(
    summaries: Summaries,
    local_stack: LocalAws,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(Reply.overloaded(), summary_reply())
    assert summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))["result"] == "created"
    assert len(anthropic_server.requests) == 2
    assert record(local_stack, call_sid).summary_status == "completed"


def test_rejected_request_raises_stores_nothing_and_the_retry_succeeds(
    summaries: Summaries,
    local_stack: LocalAws,
    bus_tap: BusTap,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
    logged: list[logging.LogRecord],
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(Reply.invalid_request("output_config.format.schema: unsupported keyword"))
    event = transcript_completed_event(call_sid, len(CONVERSATION))

    with pytest.raises(ModelRequestRejectedError, match="400 invalid_request_error"):
        summaries.invoke(event)
    [rejected] = [r for r in logged if r.getMessage() == "the model rejected the request"]
    assert rejected.levelno == logging.ERROR
    assert rejected.__dict__["call_sid"] == call_sid
    assert rejected.exc_info is not None
    assert "unsupported keyword" in str(rejected.exc_info[1])
    stored = record(local_stack, call_sid)
    assert stored.summary is None
    assert stored.summary_status == "failed"  # a retry cannot cure a refusal: the record says so now
    assert summary_events(bus_tap, call_sid) == []
    assert len(anthropic_server.requests) == 1

    # EventBridge retries the same event; the failed attempt left no idempotency record behind.
    scripted.push(summary_reply())
    assert summaries.invoke(event)["result"] == "created"
    assert len(summary_events(bus_tap, call_sid)) == 1
    assert record(local_stack, call_sid).summary_status == "completed"


def test_call_without_speech_gets_a_no_conversation_summary_without_the_model(
    summaries: Summaries,
    local_stack: LocalAws,
    bus_tap: BusTap,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, [(0.5, "inbound", "caller", " ")])
    outcome = summaries.invoke(transcript_completed_event(call_sid, 1))

    assert outcome == {"callSid": call_sid, "result": "no-conversation", "model": "none"}
    assert anthropic_server.requests == []
    summary = record(local_stack, call_sid).summary.as_dict()
    assert summary["no_conversation"] is True
    assert summary["outcome"] == "no_conversation"
    assert summary["model"] == "none"
    assert summary["usage"]["requests"] == 0
    assert summary["estimated_cost_usd"] == 0
    [published] = summary_events(bus_tap, call_sid)
    assert published["detail"] == {"callSid": call_sid, "model": "none"}


def test_call_with_no_segments_at_all(
    summaries: Summaries,
    local_stack: LocalAws,
    anthropic_server: AnthropicServer,
    call_sid: str,
    scripted: ScriptedResponder,
) -> None:
    store_call(local_stack, call_sid, [])
    assert (
        summaries.invoke(transcript_completed_event(call_sid, 0, transcript_status="failed"))["result"]
        == "no-conversation"
    )
    assert "transcription failed" in record(local_stack, call_sid).summary.as_dict()["summary"]
    assert anthropic_server.requests == []


def test_long_call_is_summarised_by_map_reduce(
    summaries: Summaries,
    local_stack: LocalAws,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    # Small enough for several map requests, big enough that every part summary fits one reduce
    # request next to the (v3, longer) system prompt.
    summaries.configure(SUMMARY_TOKEN_BUDGET="2400", SUMMARY_MAX_OUTPUT_TOKENS="256")
    anthropic_server.responder = OfflineSummarizer()
    anthropic_server.clear()
    conversation = [
        (
            i * 6.0,
            "inbound" if i % 2 == 0 else "outbound",
            "caller" if i % 2 == 0 else "callee",
            f"Turn {i}: the replacement compressor for unit {i % 9} still has not shipped, and the warranty "
            "covers labour but not the refrigerant refill, so we need a written quote first.",
        )
        for i in range(120)
    ]
    store_call(local_stack, call_sid, conversation)

    outcome = summaries.invoke(transcript_completed_event(call_sid, len(conversation)))

    requests = anthropic_server.requests
    maps = [r for r in requests if "<transcript>" in r.user_text]
    reduces = [r for r in requests if "<part_summaries>" in r.user_text]
    assert len(maps) >= 3
    assert len(reduces) == 1
    assert len(requests) == len(maps) + 1
    # every turn reached exactly one map request
    for i in range(120):
        assert sum(f"Turn {i}:" in r.user_text for r in maps) == 1
    summary = record(local_stack, call_sid).summary.as_dict()
    assert outcome["model"] == summary["model"] == OFFLINE_MODEL  # the demo record never claims Claude
    assert summary["chunks"] == len(maps)
    assert summary["usage"]["requests"] == len(requests)
    assert summary["estimated_cost_usd"] == 0
    assert summary["summary"].startswith(
        f"Extractive summary (offline, no language model) of {len(maps)} parts"
    )


def test_redaction_can_be_switched_off(
    summaries: Summaries,
    local_stack: LocalAws,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    summaries.configure(SUMMARY_REDACTION="false")
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(summary_reply())
    summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))
    assert CARD in anthropic_server.requests[0].user_text
    assert record(local_stack, call_sid).summary.as_dict()["redaction"] == {
        "enabled": False,
        "applied": False,
        "counts": {},
    }


def test_transcript_not_yet_readable_is_retried_not_summarised(
    summaries: Summaries,
    local_stack: LocalAws,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION[:2])
    with pytest.raises(TranscriptIncompleteError, match="2 segments readable, the event announced 4"):
        summaries.invoke(transcript_completed_event(call_sid, 4))
    assert anthropic_server.requests == []
    assert record(local_stack, call_sid).summary is None


@pytest.mark.parametrize(
    "detail",
    [
        {"segmentCount": 3},
        {"callSid": "not-a-call-sid", "segmentCount": 3},
        {"callSid": "CA" + "0" * 32, "segmentCount": -1},
    ],
)
def test_malformed_event_is_refused_and_changes_nothing(
    summaries: Summaries,
    local_stack: LocalAws,
    anthropic_server: AnthropicServer,
    scripted: ScriptedResponder,
    detail: dict[str, Any],
) -> None:
    event = transcript_completed_event("CA" + "0" * 32, 0)
    event["detail"] = detail
    with pytest.raises(ValidationError):
        summaries.invoke(event)
    assert anthropic_server.requests == []
    assert calls_model(local_stack.names.calls_table).count("CA" + "0" * 32) == 0


def test_each_request_timeout_leaves_room_for_every_sdk_attempt(
    summaries: Summaries,
    local_stack: LocalAws,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(summary_reply())
    # 65 s left, 5 s kept for storing and publishing, 1 + 2 retries: 20 s per attempt (default 60 s).
    summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)), remaining_ms=65_000)
    assert float(anthropic_server.requests[0].headers["x-stainless-read-timeout"]) == 20.0


def test_too_little_time_left_raises_before_asking_the_model(
    summaries: Summaries,
    local_stack: LocalAws,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    with pytest.raises(DeadlineError, match="too little for a model request"):
        summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)), remaining_ms=15_000)
    assert anthropic_server.requests == []
    assert record(local_stack, call_sid).summary is None


def transcript_reconciled_event(
    call_sid: str, segment_count: int, filled: float, version: str
) -> dict[str, Any]:
    event = transcript_completed_event(call_sid, segment_count)
    event["detail-type"] = "Transcript Reconciled"
    event["detail"] = {
        "callSid": call_sid,
        "segmentCount": segment_count,
        "filledSeconds": filled,
        "transcriptVersion": version,
        "transcriptSource": "live+recording",
    }
    return event


def reconcile_call(stack: LocalAws, call_sid: str, version: str, filled: float = 2.4) -> int:
    """What the recordings tier stores: a segment filled from the recording, then the call's fields."""
    segments = segments_model(stack.names.transcripts_table)
    segments(
        call_sid,
        f"{segment_key(6.0, 'inbound')}#r",
        track="inbound",
        speaker="caller",
        text="And after ten works best for me.",
        start=6.0,
        end=8.4,
        origin="recording",
        source="deepgram:nova-3",
    ).save()
    item = calls_model(stack.names.calls_table)(call_sid)
    item.update(
        actions=[item.__class__.transcript_version.set(version), item.__class__.filled_seconds.set(filled)]
    )
    return len(CONVERSATION) + 1


def test_a_reconciliation_that_added_words_rewrites_the_summary_once_per_version(
    summaries: Summaries,
    local_stack: LocalAws,
    bus_tap: BusTap,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(summary_reply())
    summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))
    count = reconcile_call(local_stack, call_sid, "a1b2c3d4e5f60718")
    scripted.push(summary_reply())
    event = transcript_reconciled_event(call_sid, count, 2.4, "a1b2c3d4e5f60718")

    # not taken for the first summary's idempotency record: a second model call, from the final transcript
    assert summaries.invoke(event) == {
        "callSid": call_sid,
        "result": "rewritten",
        "model": "claude-haiku-5-5-20261007",
    }
    assert len(anthropic_server.requests) == 2
    assert "after ten works best" in anthropic_server.requests[1].user_text
    summary = record(local_stack, call_sid).summary.as_dict()
    assert summary["transcript_version"] == "a1b2c3d4e5f60718"
    assert summary["segment_count"] == count
    published = summary_events(bus_tap, call_sid)
    assert [e["detail"] for e in published] == [
        {"callSid": call_sid, "model": "claude-haiku-5-5-20261007"},
        {"callSid": call_sid, "model": "claude-haiku-5-5-20261007", "transcriptVersion": "a1b2c3d4e5f60718"},
    ]

    # redelivered, or published again by a re-run: no model call, no event
    assert summaries.invoke(event)["result"] == "rewritten"  # the idempotency record's stored outcome
    assert (
        summaries.invoke(transcript_reconciled_event(call_sid, count, 2.4, "a1b2c3d4e5f60718"))["result"]
        == "rewritten"
    )
    table = boto3.resource("dynamodb").Table(local_stack.names.idempotency_table)
    for item in table.scan()["Items"]:
        table.delete_item(Key={"id": item["id"]})
    assert summaries.invoke(event)["result"] == "already-current"  # past the records' TTL: the version holds
    assert len(anthropic_server.requests) == 2
    assert len(summary_events(bus_tap, call_sid)) == 2


def test_a_reconciliation_that_added_nothing_makes_no_model_call(
    summaries: Summaries,
    local_stack: LocalAws,
    scripted: ScriptedResponder,
    anthropic_server: AnthropicServer,
    call_sid: str,
) -> None:
    store_call(local_stack, call_sid, CONVERSATION)
    scripted.push(summary_reply())
    summaries.invoke(transcript_completed_event(call_sid, len(CONVERSATION)))
    item = calls_model(local_stack.names.calls_table)(call_sid)
    item.update(
        actions=[
            item.__class__.transcript_version.set("0f0f0f0f0f0f0f0f"),
            item.__class__.filled_seconds.set(0),
        ]
    )

    outcome = summaries.invoke(
        transcript_reconciled_event(call_sid, len(CONVERSATION), 0.0, "0f0f0f0f0f0f0f0f")
    )

    assert outcome["result"] == "nothing-added"
    assert len(anthropic_server.requests) == 1
