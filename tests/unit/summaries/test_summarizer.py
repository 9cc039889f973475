"""Single request vs map-reduce, with a fake language model (no network)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from functions.summaries.chunking import estimate_tokens
from functions.summaries.errors import DeadlineError, ModelUnavailableError
from functions.summaries.llm import StructuredRequest
from functions.summaries.prompts import load_prompts
from functions.summaries.summarizer import Summarizer, SummarizerConfig
from functions.summaries.summary import CallSummary, Outcome
from tests.unit.summaries.builders import FakeModel, a_summary

LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] \w+: .*$", re.M)


def config(budget: int, concurrency: int = 4) -> SummarizerConfig:
    return SummarizerConfig(
        prompts=load_prompts("v1"), token_budget=budget, max_output_tokens=256, map_concurrency=concurrency
    )


def call_lines(seconds: int, every: int = 5) -> list[str]:
    """A call of `seconds` with a line every `every` seconds, alternating speakers."""
    lines = []
    for n, t in enumerate(range(0, seconds, every)):
        speaker = "caller" if n % 2 == 0 else "callee"
        lines.append(
            f"[{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}] {speaker}: sentence {n} about the order "
            "and the delivery window and whether the replacement part has shipped yet"
        )
    return lines


def by_purpose(model: FakeModel, prefix: str) -> list[StructuredRequest[Any]]:
    return [r for r in model.requests if r.purpose.startswith(prefix)]


def test_short_call_is_one_request() -> None:
    model = FakeModel()
    result = Summarizer(model, config(60_000), lambda: 30.0).summarize(call_lines(120), "en")
    assert [r.purpose for r in model.requests] == ["single"]
    assert result.chunks == 1
    assert result.usage.requests == 1
    assert result.model == "claude-haiku-5-5"
    assert result.estimated_cost_usd is not None
    assert result.estimated_cost_usd > 0
    request = model.requests[0]
    assert request.output is CallSummary
    assert request.timeout_seconds == 30.0
    assert "'en'" in request.prompt


def test_two_hour_call_is_mapped_then_reduced() -> None:
    lines = call_lines(2 * 3600)
    budget = 20_000
    model = FakeModel(answer=lambda r: a_summary(summary=r.purpose))
    result = Summarizer(model, config(budget), lambda: 30.0).summarize(lines, "en")

    maps, reduces = by_purpose(model, "map"), by_purpose(model, "reduce")
    assert len(maps) == result.chunks == result.map_requests
    assert len(maps) >= 2
    assert len(reduces) == result.reduce_requests == 1
    assert result.usage.requests == len(maps) + 1
    # every line went to exactly one map request, in order, and every request fit the budget
    mapped = [
        line
        for r in sorted(maps, key=lambda r: int(r.purpose.split()[1].split("/")[0]))
        for line in LINE.findall(r.prompt)
    ]
    assert mapped == lines
    for request in model.requests:
        assert estimate_tokens(request.system) + estimate_tokens(request.prompt) <= budget
    # the reduce saw every part's summary, in order
    reduce_prompt = reduces[0].prompt
    positions = [reduce_prompt.index(f'"summary": "map {i}/{len(maps)}"') for i in range(1, len(maps) + 1)]
    assert positions == sorted(positions)
    assert result.summary.summary == "reduce 1/1"


def test_many_parts_are_reduced_level_by_level() -> None:
    lines = call_lines(2 * 3600)
    # Long part summaries make one reduce over all parts exceed the budget.
    model = FakeModel(answer=lambda r: a_summary(summary=f"{r.purpose} " + "detail " * 400))
    result = Summarizer(model, config(3_000), lambda: 30.0).summarize(lines, "en")
    reduces = by_purpose(model, "reduce")
    assert result.reduce_requests == len(reduces) > 1
    assert result.summary.summary.startswith("reduce 1/1")
    for request in model.requests:
        assert estimate_tokens(request.system) + estimate_tokens(request.prompt) <= 3_000


def test_a_failed_map_request_fails_the_whole_summary() -> None:
    def answer(request: StructuredRequest[Any]) -> CallSummary:
        if request.purpose.startswith("map 2/"):
            raise ModelUnavailableError("overloaded after retries")
        return a_summary()

    model = FakeModel(answer=answer)
    with pytest.raises(ModelUnavailableError):
        Summarizer(model, config(3_000), lambda: 30.0).summarize(call_lines(3600), "en")
    assert not by_purpose(model, "reduce")


def test_no_time_left_raises_before_asking() -> None:
    def no_time() -> float:
        raise DeadlineError("2 s left")

    model = FakeModel()
    with pytest.raises(DeadlineError):
        Summarizer(model, config(60_000), no_time).summarize(call_lines(60), "en")
    assert model.requests == []


def test_cost_is_none_when_a_model_has_no_price() -> None:
    model = FakeModel(model="claude-unknown-9")
    result = Summarizer(model, config(60_000), lambda: 30.0).summarize(call_lines(60), None)
    assert result.estimated_cost_usd is None
    assert result.summary.outcome is Outcome.RESOLVED
