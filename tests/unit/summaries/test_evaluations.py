"""Evaluation questions: configuration, the answer schema, typed checks of the answers, the summary's
write carrying them, and the backfill that never spends past its cap (fake model, known usage)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.summaries.backfill import (
    CappedModel,
    CapReached,
    CostCap,
    EvaluationBackfill,
    window,
    worst_case_usd,
)
from functions.summaries.evaluations import output_model, store_answers
from functions.summaries.llm import StructuredReply, StructuredRequest, T
from functions.summaries.pricing import request_cost
from functions.summaries.settings import SummaryModelSettings
from functions.summaries.summary import TokenUsage
from shared.errors import ConfigError
from shared.evaluations import EvaluationQuestion, EvaluationSettings, questions_version, stored_answer
from shared.settings import EnvSettings
from tests.support.fake_calls.summaries import FakeEvaluationBackfillCalls
from tests.support.fake_segments import FakeSegments
from tests.unit.summaries.builders import a_summary
from tests.unit.summaries.test_service import CONVERSATION, ENV, SID, rig, segments

QUESTIONS = [
    {"id": "greeted", "question": "Did the agent greet the caller?", "type": "yes_no"},
    {
        "id": "reason",
        "question": "Reason for calling",
        "type": "choice",
        "choices": ["billing", "appointment"],
    },
    {
        "id": "score",
        "question": "How satisfied was the caller, 1 to 5?",
        "type": "number",
        "min": 1,
        "max": 5,
    },
    {"id": "note", "question": "What did the caller ask for?", "type": "text", "max_length": 20},
    {"id": "sales_only", "question": "Was an upsell offered?", "type": "yes_no", "routes": ["sales"]},
]
EVAL_ENV = {"EVALUATION_QUESTIONS": json.dumps(QUESTIONS)}


class Env(EnvSettings):
    evaluations: EvaluationSettings


def questions(raw: list[dict[str, Any]] = QUESTIONS) -> tuple[EvaluationQuestion, ...]:
    return Env.from_env({"EVALUATION_QUESTIONS": json.dumps(raw)}).evaluations.questions


# ---- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([QUESTIONS[0], QUESTIONS[0]], "duplicate question id(s): greeted"),
        ([{"id": "x", "question": "Pick one?", "type": "choice"}], "needs at least two `choices`"),
        (
            [{"id": "x", "question": "How many?", "type": "number", "min": 5, "max": 1}],
            "`min` is above `max`",
        ),
        (
            [{"id": "x", "question": "Did it?", "type": "yes_no", "choices": ["a", "b"]}],
            "only for type choice",
        ),
        ([{"id": "x", "question": "Did it?", "type": "maybe"}], "yes_no"),
        ([{"id": "Bad Id", "question": "Did it?", "type": "yes_no"}], "String should match pattern"),
    ],
)
def test_bad_question_sets_are_refused_naming_the_variable(raw: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        questions(raw)
    assert "EVALUATION_QUESTIONS" in str(error.value)
    assert message in str(error.value)


@pytest.mark.parametrize("raw", ["[{", "[" * 100_000 + "]" * 100_000])
def test_invalid_json_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"EVALUATION_QUESTIONS: .*not valid JSON"):
        Env.from_env({"EVALUATION_QUESTIONS": raw})


def test_the_version_is_a_stable_digest_of_the_set() -> None:
    assert questions_version(questions()) == questions_version(questions())
    changed = [dict(QUESTIONS[0], question="Did the agent greet the caller by name?"), *QUESTIONS[1:]]
    assert questions_version(questions(changed)) != questions_version(questions())
    assert questions_version(()) is None
    assert Env.from_env({}).evaluations.version is None


# ---- schema and typed checks ----------------------------------------------------------------------


def test_the_schema_types_each_answer_by_its_question() -> None:
    schema = output_model(questions())
    defs = schema.model_json_schema()["$defs"]
    answer = {
        name.removeprefix("Evaluation_"): d["properties"]["answer"]["anyOf"][0]
        for name, d in defs.items()
        if name.startswith("Evaluation_")
    }
    assert answer["greeted"] == {"type": "boolean"}
    assert answer["reason"] == {"type": "string", "enum": ["billing", "appointment"]}
    assert answer["score"] == {"type": "number", "minimum": 1, "maximum": 5}
    assert defs["Evaluations"]["required"] == [q["id"] for q in QUESTIONS]
    assert defs["Evaluation_greeted"]["description"].startswith("Did the agent greet the caller?")


@pytest.mark.parametrize(
    ("question_id", "value", "stored", "refused"),
    [
        ("greeted", True, {"answer": "yes", "answer_bool": True}, False),
        ("greeted", "yes", {}, True),
        ("reason", "appointment", {"answer": "appointment"}, False),
        ("reason", "weather", {}, True),
        ("score", 4, {"answer": "4", "answer_number": 4}, False),
        ("score", 4.5, {"answer": "4.5", "answer_number": 4.5}, False),
        ("score", 9, {}, True),
        ("note", "x" * 30, {"answer": "x" * 20}, False),
        ("note", None, {}, False),
    ],
)
def test_answers_are_checked_against_their_declared_type(
    question_id: str, value: Any, stored: dict[str, Any], refused: bool
) -> None:
    question = {q.id: q for q in questions()}[question_id]
    item, bad = stored_answer(question, value, ["k1"], "claude-haiku-5-5")
    assert bad is refused
    assert {k: v for k, v in item.items() if k in ("answer", "answer_bool", "answer_number")} == stored
    assert item["evidence"] == (["k1"] if stored else [])


def test_evidence_line_numbers_become_segment_keys() -> None:
    keys = ["k1", "k2", "k3"]
    raw = {
        "greeted": {"answer": True, "evidence": [2, 9, 0, 2]},
        "reason": {"answer": "nope", "evidence": [1]},
    }
    result = store_answers(questions()[:2], raw, keys, "offline")
    assert result.answers[0]["evidence"] == ["k2"]  # out-of-range lines dropped, duplicates once
    assert "answer" not in result.answers[1]
    assert (result.refused, result.answered) == (1, 1)


# ---- the summary's request and write ----------------------------------------------------------------


def answering(evaluations: dict[str, Any]) -> Any:
    def answer(request: StructuredRequest[Any]) -> Any:
        return request.output.model_validate(
            {**a_summary().model_dump(mode="json"), "evaluations": evaluations}
        )

    return answer


def test_the_summary_request_answers_the_questions_and_the_write_stores_them() -> None:
    r = rig(answer=answering({
        "greeted": {"answer": True, "evidence": [1]},
        "reason": {"answer": "appointment", "evidence": [1]},
        "score": {"answer": 11, "evidence": [3]},
        "note": {"answer": None, "evidence": []},
    }), **EVAL_ENV)  # fmt: skip
    r.create(len(CONVERSATION))

    [request] = r.model.requests  # one request: the summary and the answers together
    assert "L1 [00:00:01] caller:" in request.prompt
    assert "<evaluation_questions>" in request.prompt
    assert "sales_only" not in request.prompt
    stored = r.stored
    assert stored["evaluations_version"] == questions_version(questions())
    answers = {e["id"]: e for e in stored["evaluations"]}
    assert set(answers) == {"greeted", "reason", "score", "note"}  # the sales route's question is not asked
    assert answers["greeted"]["answer_bool"] is True
    assert answers["greeted"]["evidence"] == [segments(SID, CONVERSATION)[0].segment_key]
    assert answers["greeted"]["answered_by"] == "claude-haiku-5-5"
    assert "answer" not in answers["score"]  # out of range: no answer, counted
    assert ("EvaluationAnswersRefused", 1) in r.metrics.added
    assert "evaluations" not in stored["summary"]


def test_the_offline_summariser_is_marked_offline() -> None:
    r = rig(answer=answering({"greeted": {"answer": True, "evidence": [1]}}), **EVAL_ENV)
    r.model.model = "offline-extractive"
    r.create(len(CONVERSATION))
    assert {e["answered_by"] for e in r.stored["evaluations"]} == {"offline"}


def test_a_call_without_speech_stores_every_question_unanswered() -> None:
    r = rig(lines=[], **EVAL_ENV)
    r.create(0)
    assert r.model.requests == []
    assert all("answer" not in e and e["answered_by"] == "none" for e in r.stored["evaluations"])


def test_no_questions_configured_writes_no_evaluations() -> None:
    r = rig()
    r.create(len(CONVERSATION))
    assert "evaluations" not in r.stored
    assert "evaluations_version" not in r.stored


# ---- the backfill and its cap -----------------------------------------------------------------------


class KnownUsageModel:
    """Answers every request with the same usage, so what the run spends is known exactly."""

    def __init__(self, usage: TokenUsage, model: str = "claude-haiku-5-5") -> None:
        self.usage, self.model, self.requests = usage, model, 0

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        self.requests += 1
        value = request.output.model_validate({"evaluations": {"greeted": {"answer": True, "evidence": [1]}}})
        return StructuredReply(value=value, model=self.model, usage=self.usage)


def past_calls(count: int, day: str = "2026-11-20") -> tuple[FakeEvaluationBackfillCalls, FakeSegments]:
    calls, store = FakeEvaluationBackfillCalls(), FakeSegments()
    for index in range(count):
        sid = f"CA{index:032x}"
        calls.items[sid] = {
            "call_sid": sid, "call_date": day, "started_at": f"{day}T10:{index:02d}:00Z",
            "summary": {"summary": "old", "model": "claude-haiku-5-5"},
        }  # fmt: skip
        store.write_segments(segments(sid, CONVERSATION))
    return calls, store


def backfill(calls: FakeEvaluationBackfillCalls, store: FakeSegments, model: Any) -> EvaluationBackfill:
    settings = SummaryModelSettings.from_env({**ENV, **EVAL_ENV})
    return EvaluationBackfill(settings, calls, store, lambda: model)


USAGE = TokenUsage(requests=1, input_tokens=900, output_tokens=120)


@pytest.mark.parametrize("cap", [0.0, 0.0004, 0.001, 0.0025, 0.01])
def test_the_backfill_never_spends_past_its_cap(cap: float) -> None:
    calls, store = past_calls(20)
    model = KnownUsageModel(USAGE)
    report = backfill(calls, store, model).run(["2026-11-20"], cap)

    one = request_cost("claude-haiku-5-5", USAGE)
    assert one is not None
    assert report.spent_usd <= cap
    assert report.spent_usd == pytest.approx(model.requests * one)
    assert report.answered == model.requests
    assert report.stopped == ("done" if model.requests == 20 else "cap")
    stored = [c for c in calls.items.values() if "evaluations_version" in c]
    assert len(stored) == model.requests


def test_a_request_whose_worst_case_does_not_fit_is_never_sent() -> None:
    cap = CostCap(max_usd=0.0001)
    model = KnownUsageModel(USAGE)
    request = StructuredRequest(system="s" * 100, prompt="p" * 4000, output=output_model(questions()),
                                max_tokens=2048, timeout_seconds=1, purpose="t")  # fmt: skip
    assert worst_case_usd("claude-haiku-5-5", request, 0) > cap.max_usd
    with pytest.raises(CapReached):
        CappedModel(model, "claude-haiku-5-5", cap).structured(request)
    assert (model.requests, cap.spent_usd, cap.reserved_usd) == (0, 0, 0)


def test_a_rerun_asks_nothing_and_a_new_question_set_asks_again() -> None:
    calls, store = past_calls(3)
    model = KnownUsageModel(USAGE)
    assert backfill(calls, store, model).run(["2026-11-20"], 1.0).answered == 3
    again = backfill(calls, store, model).run(["2026-11-20"], 1.0)
    assert (again.answered, again.current, model.requests) == (0, 3, 3)


def test_a_dry_run_asks_nothing_and_writes_nothing() -> None:
    calls, store = past_calls(3)
    model = KnownUsageModel(USAGE)
    report = backfill(calls, store, model).run(["2026-11-20"], 1.0, dry_run=True)
    assert (report.answered, model.requests, report.spent_usd) == (3, 0, 0)
    assert report.worst_case_usd > 0
    assert not any("evaluations" in c for c in calls.items.values())


def test_calls_not_summarised_yet_are_left_to_the_summaries_lambda() -> None:
    calls, store = past_calls(2)
    del calls.items["CA" + "0" * 32]["summary"]
    report = backfill(calls, store, KnownUsageModel(USAGE)).run(["2026-11-20"], 1.0)
    assert (report.not_summarised, report.answered) == (1, 1)


def test_the_window_is_whole_utc_days_oldest_first() -> None:
    from datetime import date

    assert window(2, 0, date(2026, 11, 26)) == ["2026-11-24", "2026-11-25", "2026-11-26"]
    with pytest.raises(ValueError, match="--since"):
        window(0, 2, date(2026, 11, 26))


def test_long_calls_answer_per_part_and_the_reduce_answers_for_the_call() -> None:
    from functions.summaries.prompts import load_prompts
    from functions.summaries.summarizer import Summarizer, SummarizerConfig
    from tests.unit.summaries.builders import FakeModel
    from tests.unit.summaries.test_summarizer import call_lines

    def answer(request: StructuredRequest[Any]) -> Any:
        if request.purpose.startswith("map"):
            first = int(request.prompt.split("\nL", 1)[1].split(" ", 1)[0])  # this part's first line
            evaluations = {"greeted": {"answer": first == 1, "evidence": [first]}}
        else:
            assert '"evaluations"' in request.prompt  # the parts' answers reach the reduce
            assert '"greeted"' in request.prompt
            evaluations = {"greeted": {"answer": True, "evidence": [1]}}
        return request.output.model_validate(
            {**a_summary().model_dump(mode="json"), "evaluations": evaluations}
        )

    model = FakeModel(answer=answer)
    config = SummarizerConfig(
        prompts=load_prompts("v3"), token_budget=3_000, max_output_tokens=256, map_concurrency=2,
        questions=questions()[:1],
    )  # fmt: skip
    result = Summarizer(model, config, lambda: 30.0).summarize(call_lines(1200), "en")
    assert result.chunks > 1
    assert result.reduce_requests >= 1
    assert result.answers == {"greeted": {"answer": True, "evidence": [1]}}
    maps = [r for r in model.requests if r.purpose.startswith("map")]
    assert all("<evaluation_questions>" in r.prompt for r in model.requests)
    assert "\nL1 [" in maps[0].prompt  # lines keep their whole-call numbers in every part
    assert "\nL1 [" not in maps[1].prompt
