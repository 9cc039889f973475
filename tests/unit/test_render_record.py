"""`callscribe show` (and the demo): the transcript's recording-filled lines are marked, and the
reconciliation is summarised under the transcript."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from callscribe_local.demo import RECORDING_TAG, reconciliation_line, render_record


def _render(record: dict[str, Any]) -> str:
    console = Console(width=160, record=True, force_terminal=False, color_system=None)
    with console.capture() as captured:
        render_record(record, console)
    return captured.get()


def _record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "callSid": "CA" + "1" * 32,
        "transcriptSource": None,
        "liveCoverage": None,
        "gaps": None,
        "transcript": [
            {
                "track": "inbound",
                "speaker": "caller",
                "text": "hi about my delivery",
                "start": 0.6,
                "end": 3.1,
                "source": "live",
            },
            {
                "track": "outbound",
                "speaker": "callee",
                "text": "your order number please",
                "start": 9.7,
                "end": 14.3,
                "source": "recording",
            },
        ],
        "summary": {"summary": "Delivery moved.", "model": "offline-extractive"},
    }
    record.update(overrides)
    return record


def _line_of(out: str, text: str) -> str:
    return next(line for line in out.splitlines() if text in line)


def test_recording_lines_are_tagged_and_live_lines_are_not() -> None:
    out = _render(
        _record(
            transcriptSource="live+recording",
            liveCoverage=0.6321,
            gaps=[{"track": "outbound", "start": 9.71, "end": 14.28}],
        )
    )
    assert RECORDING_TAG + " your order number please" in _line_of(out, "your order number")
    assert RECORDING_TAG not in _line_of(out, "hi about my delivery")


def test_the_reconciliation_is_summarised_under_the_transcript() -> None:
    out = _render(
        _record(
            transcriptSource="live+recording",
            liveCoverage=0.6321,
            gaps=[{"track": "outbound", "start": 9.71, "end": 14.28}],
        )
    )
    line = _line_of(out, "source:")
    assert "source: live+recording" in line
    assert "live coverage: 63%" in line
    assert "gaps: outbound 9.7-14.3 s" in line
    assert f"{RECORDING_TAG} = filled in from the recording" in line
    # after the transcript, before the summary
    assert out.index("your order number") < out.index("source:") < out.index("Delivery moved.")


def test_a_live_only_reconciliation_says_so() -> None:
    record = _record(transcriptSource="live", liveCoverage=1, gaps=[])
    for segment in record["transcript"]:
        segment["source"] = "live"
    line = reconciliation_line(record)
    assert line is not None
    assert line.plain == "source: live   live coverage: 100%   gaps: none"
    assert RECORDING_TAG not in _render(record)


def test_settled_without_a_recording_has_no_coverage() -> None:
    line = reconciliation_line(_record(transcriptSource="live", liveCoverage=None, gaps=[]))
    assert line is not None
    assert "live coverage: n/a" in line.plain


def test_nothing_is_said_before_the_recording_is_reconciled() -> None:
    assert reconciliation_line(_record()) is None
    assert "source:" not in _render(_record())


def test_the_cost_is_printed_with_its_parts_and_the_minutes_they_priced() -> None:
    cost = {
        "totalUsd": 0.0585, "twilioVoiceUsd": 0.0255, "voiceMinutes": 3, "twilioRecordingUsd": None,
        "deepgramLiveUsd": 0.0308, "liveTrackMinutes": 4.0, "claudeUsd": 0.0022, "ttsUsd": None,
        "pricesAsOf": "2026-11-01",
    }  # fmt: skip
    line = _line_of(_render(_record(cost=cost)), "cost:")
    assert "cost: $0.0585" in line
    assert "Twilio voice $0.0255 (3 min)" in line
    assert "Deepgram live $0.0308 (4 track-min)" in line
    assert "Claude $0.0022" in line
    assert "recording" not in line
    assert "TTS" not in line
    assert "prices as of 2026-11-01" in line
    assert "cost:" not in _render(_record())  # not estimated yet: no line


def test_twilios_bill_is_printed_beside_the_estimate_of_the_same_parts() -> None:
    cost = {
        "totalUsd": 0.0585, "twilioVoiceUsd": 0.0255, "voiceMinutes": 3, "twilioRecordingUsd": 0.0075,
        "claudeUsd": 0.0022, "pricesAsOf": "2026-11-01",
        "billed": {"twilioVoice": 0.0255, "twilioRecording": 0.0050, "total": 0.0305, "priceUnit": "USD",
                   "readAt": "2026-11-22T10:40:00.000Z"},
    }  # fmt: skip
    out = _render(_record(cost=cost))
    line = _line_of(out, "billed by Twilio:")
    assert "billed by Twilio: $0.0305 (voice $0.0255, recording $0.0050)" in line
    assert "the estimate's Twilio parts $0.0330 (+8.2 % of the bill)" in line
    assert "read 2026-11-22T10:40:00.000Z" in line
    assert out.index("cost:") < out.index("billed by Twilio:")
    partial = {**cost, "billed": {"twilioVoice": 0.0255, "priceUnit": "USD", "readAt": "x"}}
    line = _line_of(_render(_record(cost=partial)), "billed by Twilio:")
    assert "billed by Twilio: not complete yet (voice $0.0255)" in line
    assert "estimate" not in line
    assert "billed by Twilio" not in _render(_record(cost={"totalUsd": 0.05}))  # not read yet: no line


def test_each_leg_is_printed_with_its_cost_and_then_the_conversation_total() -> None:
    leg = {
        "callSid": "CA" + "2" * 32, "direction": "outbound-dial", "to": "+14155550199", "status": "completed",
        "durationSeconds": 61, "cost": {"totalUsd": 0.028, "twilioVoiceUsd": 0.028, "voiceMinutes": 2},
    }  # fmt: skip
    out = _render(_record(cost={"totalUsd": 0.05}, legs=[leg], conversationCostUsd=0.078))
    line = _line_of(out, "leg ")
    assert f"{leg['callSid']} to +14155550199 (outbound-dial, completed, 61 s): $0.0280 (2 min)" in line
    assert "conversation (call and legs): $0.0780" in out
    assert out.index("cost:") < out.index("leg ") < out.index("conversation")
    unpriced = {**leg, "status": "in-progress", "cost": None}
    out = _render(_record(legs=[unpriced], conversationCostUsd=None))
    assert "not priced yet" in _line_of(out, "leg ")
    assert "conversation (call and legs): not complete yet" in out
    assert "conversation" not in _render(_record(legs=[]))  # no legs: no line


def test_show_prints_each_evaluation_answer_and_what_could_not_be_told() -> None:
    record = _record(
        summary={"summary": "Delivery question.", "model": "offline-extractive"},
        evaluations=[
            {"id": "greeted", "question": "Did the agent greet the caller?", "type": "yes_no",
             "answer": "yes", "answer_bool": True, "evidence": ["0000001000#inbound"],
             "answered_by": "offline"},
            {"id": "reason", "question": "Reason for calling", "type": "choice", "evidence": [],
             "answered_by": "offline"},
        ],
    )  # fmt: skip
    text = _render(record)
    assert "greeted: yes" in text
    assert "by offline, 1 supporting line)" in text
    assert "reason: cannot tell" in text


def test_the_backfill_command_needs_a_cap_and_targets_the_running_stack() -> None:
    import pytest

    from callscribe_local.cli import StackState, backfill_environment, build_parser
    from callscribe_local.stack import DEMO_EVALUATION_QUESTIONS, LOCAL_ANTHROPIC_KEY

    with pytest.raises(SystemExit):
        build_parser().parse_args(["backfill-evaluations"])
    args = build_parser().parse_args(
        ["backfill-evaluations", "--max-usd", "0.5", "--since", "3", "--dry-run"]
    )
    assert (args.max_usd, args.since, args.until, args.dry_run) == (0.5, 3, 0, True)
    state = StackState(
        pid=1, api="http://api", stream="ws://s", aws="http://aws", deepgram="ws://dg", anthropic="http://anth",
        log_dir="logs", account_sid="AC1", auth_token="t",
        names={"calls_table": "c", "transcripts_table": "t", "idempotency_table": "i", "event_bus_name": "b",
               "recordings_bucket": "r"},
    )  # fmt: skip
    env = backfill_environment(state, {})
    assert (env["ANTHROPIC_BASE_URL"], env["ANTHROPIC_API_KEY"]) == ("http://anth", LOCAL_ANTHROPIC_KEY)
    assert (env["CALLS_TABLE"], env["EVALUATION_QUESTIONS"]) == ("c", DEMO_EVALUATION_QUESTIONS)
    real = backfill_environment(state, {"ANTHROPIC_API_KEY": "sk-real"})
    assert "ANTHROPIC_BASE_URL" not in real
    assert real["ANTHROPIC_API_KEY"] == "sk-real"


def test_the_demo_shows_the_call_row_of_the_flat_table_and_a_saved_query() -> None:
    from io import StringIO

    from rich.console import Console

    from callscribe_local.demo import AnalystView, render_analyst_tables

    out = StringIO()
    view = AnalystView(
        {"call_facts": 1, "transcript_lines": 7, "evaluation_answers": 2},
        [{"call_sid": "CA1", "live_coverage": 0.900512, "cost_total_usd": None}],
        [{"question_id": "greeted", "yes": 1}],
    )
    render_analyst_tables(view, Console(file=out, width=200))
    text = out.getvalue()
    assert "call_facts 1, transcript_lines 7, evaluation_answers 2 rows" in text
    assert "0.9005" in text
    assert "greeted" in text
    failed = StringIO()
    render_analyst_tables(AnalystView({}, [], [], "the export of calls ended FAILED"), Console(file=failed))
    assert "Analyst tables: the export of calls ended FAILED" in failed.getvalue()


def test_local_up_can_ask_claude_through_bedrocks_stand_in() -> None:
    """`callscribe local up --model-provider bedrock` (or MODEL_PROVIDER): the stack's model is the
    Bedrock stand-in, and a backfill against it asks Bedrock with the local credentials, no key."""
    import pytest

    from callscribe_local.cli import StackState, backfill_environment, build_parser
    from callscribe_local.stack import StackOptions
    from shared.anthropic_clients import ModelProvider

    assert (
        build_parser().parse_args(["local", "up", "--model-provider", "bedrock"]).model_provider == "bedrock"
    )
    assert build_parser().parse_args(["local", "up"]).model_provider is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["local", "up", "--model-provider", "vertex"])
    assert (
        StackOptions.from_environment({"MODEL_PROVIDER": "bedrock"}).model_provider is ModelProvider.BEDROCK
    )
    assert StackOptions.from_environment({}).model_provider is ModelProvider.ANTHROPIC
    state = StackState(
        pid=1, api="http://api", stream="ws://s", aws="http://aws", deepgram="ws://dg", anthropic="http://bedrock",
        log_dir="logs", account_sid="AC1", auth_token="t", model_provider="bedrock",
        names={"calls_table": "c", "transcripts_table": "t", "idempotency_table": "i", "event_bus_name": "b",
               "recordings_bucket": "r"},
    )  # fmt: skip
    env = backfill_environment(state, {"ANTHROPIC_API_KEY": "sk-real"})
    assert (env["MODEL_PROVIDER"], env["ANTHROPIC_BEDROCK_BASE_URL"], env["BEDROCK_REGION"]) == (
        "bedrock",
        "http://bedrock",
        "us-east-1",
    )
    assert "ANTHROPIC_BASE_URL" not in env
    assert "SUMMARY_MODEL" not in env  # the provider's default: the stand-in answers any Claude id
