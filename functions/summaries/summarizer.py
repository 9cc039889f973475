"""Turning a (redacted) transcript into one `CallSummary`: a single request when the transcript fits
the token budget, map-reduce when it does not.

What a change must keep: chunks are cut between lines and summarised in the call's order; reduce
runs level by level until one summary remains, so a call of any length ends in one; any failed
request fails the whole summary (nothing partial is returned). Evaluation answers ride in the same
requests (`evaluations` in the schema; the reduce answers from the parts' answers and citations);
`evaluate` asks for the answers alone (the backfill). Details: docs/summaries.md, "Long calls".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from functions.summaries.chunking import estimate_tokens, split_lines
from functions.summaries.evaluations import (
    base_summary,
    evaluations_only_model,
    output_model,
    raw_answers,
    render_questions,
)
from functions.summaries.llm import LanguageModel, StructuredReply, StructuredRequest
from functions.summaries.pricing import request_cost
from functions.summaries.prompts import PromptSet, language_hint
from functions.summaries.summary import CallSummary, TokenUsage
from functions.summaries.transcript import LEFT_LOOKALIKES, RIGHT_LOOKALIKES, TAG_CHARACTERS
from shared.evaluations import EvaluationQuestion

M = TypeVar("M", bound=BaseModel)

# Minimum room, in estimated tokens, a chunk must leave for transcript text after the prompt itself.
MIN_CHUNK_TOKENS = 500


@dataclass(frozen=True)
class SummarizerConfig:
    prompts: PromptSet
    token_budget: int
    max_output_tokens: int
    map_concurrency: int
    # the questions this call answers (already filtered by route); ignored by a prompt version
    # that does not answer questions (v1, v2)
    questions: tuple[EvaluationQuestion, ...] = ()

    @property
    def asks_questions(self) -> bool:
        return bool(self.questions) and self.prompts.answers_questions


@dataclass(frozen=True)
class SummaryResult:
    summary: CallSummary
    model: str
    usage: TokenUsage
    estimated_cost_usd: float | None
    chunks: int
    map_requests: int
    reduce_requests: int
    # `{question id: {"answer": …, "evidence": [line numbers]}}`; empty when no questions were asked
    answers: dict[str, Any] = field(default_factory=dict)
    asked: bool = False  # whether the request carried evaluation questions


@dataclass(frozen=True)
class EvaluationResult:
    answers: dict[str, Any]
    model: str
    usage: TokenUsage
    estimated_cost_usd: float | None


class Summarizer:
    def __init__(self, model: LanguageModel, config: SummarizerConfig, timeout: Callable[[], float]) -> None:
        """`timeout()` gives the timeout for the next request (and raises when no time is left)."""
        self._model = model
        self._config = config
        self._timeout = timeout
        self._replies: list[StructuredReply[Any]] = []
        config.prompts.render_single("", "")  # a template that needs what we do not give fails here
        self._output: type[CallSummary] = (
            output_model(config.questions) if config.asks_questions else CallSummary
        )
        self._questions = render_questions(config.questions) if config.asks_questions else ""

    @property
    def output(self) -> type[CallSummary]:
        """The schema the model answers (CallSummary, plus `evaluations` when questions are asked)."""
        return self._output

    def summarize(self, lines: Sequence[str], language: str | None) -> SummaryResult:
        prompts, hint, questions = self._config.prompts, language_hint(language), self._questions
        self._replies = []
        lines = prompts.number(list(lines))
        transcript = "\n".join(lines)
        single = prompts.render_single(transcript, hint, questions)
        if self._tokens(single) <= self._config.token_budget:
            final = self._ask(single, "single")
            return self._result(final, chunks=1, map_requests=0, reduce_requests=0)

        overhead = self._tokens(prompts.render_map("", hint, part=999, parts=999, questions=questions))
        room = max(MIN_CHUNK_TOKENS, self._config.token_budget - overhead)
        chunks = split_lines(lines, room)
        parts = self._map(chunks, hint)
        final, reduce_requests = self._reduce(parts, hint)
        return self._result(
            final, chunks=len(chunks), map_requests=len(chunks), reduce_requests=reduce_requests
        )

    def _map(self, chunks: list[list[str]], hint: str) -> list[CallSummary]:
        prompts, total = self._config.prompts, len(chunks)

        def one(index: int) -> StructuredReply[CallSummary]:
            prompt = prompts.render_map(
                "\n".join(chunks[index]), hint, part=index + 1, parts=total, questions=self._questions
            )
            return self._request(prompt, f"map {index + 1}/{total}", self._output)

        workers = min(self._config.map_concurrency, total)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="summary-map") as pool:
            replies = list(pool.map(one, range(total)))  # re-raises the first failure, in order
        self._replies.extend(replies)
        return [reply.value for reply in replies]

    def _reduce(self, parts: list[CallSummary], hint: str) -> tuple[StructuredReply[CallSummary], int]:
        prompts, requests = self._config.prompts, 0
        while True:
            groups = self._groups(parts, hint)
            carried: list[CallSummary] = []
            final: StructuredReply[CallSummary] | None = None
            for number, group in enumerate(groups, start=1):
                if len(group) == 1 and len(groups) > 1:
                    carried.append(group[0])  # a lone trailing part joins the next level as it is
                    continue
                prompt = prompts.render_reduce(
                    _as_json(group), hint, parts=len(group), questions=self._questions
                )
                requests += 1
                final = self._ask(prompt, f"reduce {number}/{len(groups)}")
                carried.append(final.value)
            if len(groups) == 1 and final is not None:
                return final, requests
            parts = carried

    def _groups(self, parts: list[CallSummary], hint: str) -> list[list[CallSummary]]:
        """Consecutive groups of part summaries whose reduce prompt fits the budget (at least two each)."""
        prompts = self._config.prompts
        groups: list[list[CallSummary]] = []
        current: list[CallSummary] = []
        for part in parts:
            candidate = [*current, part]
            prompt = prompts.render_reduce(
                _as_json(candidate), hint, parts=len(candidate), questions=self._questions
            )
            if len(current) >= 2 and self._tokens(prompt) > self._config.token_budget:
                groups.append(current)
                current = [part]
            else:
                current = candidate
        if current:
            groups.append(current)
        return groups

    def evaluate(self, lines: Sequence[str], language: str | None) -> EvaluationResult:
        """The evaluation answers alone, for a call summarised before the questions changed: one
        request with `evaluate.txt` when the transcript fits the budget, else the whole map-reduce
        (whose summary is dropped: the stored one stays)."""
        if not self._config.asks_questions:
            raise ValueError("no evaluation questions to answer (or the prompt version answers none)")
        prompts, hint = self._config.prompts, language_hint(language)
        self._replies = []
        numbered = prompts.number(list(lines))
        prompt = prompts.render_evaluate("\n".join(numbered), hint, self._questions)
        if self._tokens(prompt) > self._config.token_budget:
            result = self.summarize(lines, language)
            return EvaluationResult(result.answers, result.model, result.usage, result.estimated_cost_usd)
        reply = self._request(prompt, "evaluate", evaluations_only_model(self._config.questions))
        self._replies.append(reply)
        usage, cost = self._spent()
        return EvaluationResult(raw_answers(reply.value), reply.model, usage, cost)

    def _ask(self, prompt: str, purpose: str) -> StructuredReply[CallSummary]:
        reply = self._request(prompt, purpose, self._output)
        self._replies.append(reply)
        return reply

    def _request(self, prompt: str, purpose: str, output: type[M]) -> StructuredReply[M]:
        return self._model.structured(
            StructuredRequest(
                system=self._config.prompts.system,
                prompt=prompt,
                output=output,
                max_tokens=self._config.max_output_tokens,
                timeout_seconds=self._timeout(),
                purpose=purpose,
            )
        )

    def _tokens(self, prompt: str) -> int:
        return estimate_tokens(self._config.prompts.system) + estimate_tokens(prompt)

    def _result(
        self, final: StructuredReply[CallSummary], chunks: int, map_requests: int, reduce_requests: int
    ) -> SummaryResult:
        usage, cost = self._spent()
        return SummaryResult(
            summary=base_summary(final.value),
            model=final.model,
            usage=usage,
            estimated_cost_usd=cost,
            chunks=chunks,
            map_requests=map_requests,
            reduce_requests=reduce_requests,
            answers=raw_answers(final.value),
            asked=self._config.asks_questions,
        )

    def _spent(self) -> tuple[TokenUsage, float | None]:
        usage = TokenUsage()
        cost: float | None = 0.0
        for reply in self._replies:
            usage = usage.plus(reply.usage)
            one = request_cost(reply.model, reply.usage, bedrock_model_id=reply.bedrock_model_id)
            cost = None if cost is None or one is None else cost + one
        return usage, None if cost is None else round(cost, 8)


def _as_json(parts: Sequence[CallSummary]) -> str:
    """Part summaries for the reduce prompt. They are model output that may quote the caller, so
    `<`, `>`, `&` and the characters a model reads as brackets are written as JSON escapes
    (`\\u003c`…: still valid JSON, same values) and tag characters are dropped, as the transcript's
    `neutralise` does: nothing in them can close the `<part_summaries>` tag around them."""
    text = json.dumps(
        [{"part": i, **part.model_dump(mode="json", by_alias=True)} for i, part in enumerate(parts, start=1)],
        ensure_ascii=False,
        indent=1,
    )
    return text.translate(_JSON_ESCAPES)


_JSON_ESCAPES = str.maketrans(
    {
        **{c: f"\\u{ord(c):04x}" for c in "&<>" + LEFT_LOOKALIKES + RIGHT_LOOKALIKES},
        **dict.fromkeys(map(chr, TAG_CHARACTERS), None),
    }
)
