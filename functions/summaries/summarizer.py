"""Turning a (redacted) transcript into one `CallSummary`: a single request when the transcript fits
the token budget, map-reduce when it does not.

Map: the transcript is cut between lines into chunks that fit the budget, and each chunk is
summarised on its own (concurrently, in order of the call). Reduce: the chunk summaries, as JSON, are
combined into one; if even they exceed the budget they are combined in groups, level by level, so a
call of any length ends in one summary. Any failed request fails the whole summary: nothing partial
is ever returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from functions.summaries.chunking import estimate_tokens, split_lines
from functions.summaries.llm import LanguageModel, StructuredReply, StructuredRequest
from functions.summaries.models import CallSummary, TokenUsage
from functions.summaries.pricing import request_cost
from functions.summaries.prompts import PromptSet, language_hint

# Minimum room, in estimated tokens, a chunk must leave for transcript text after the prompt itself.
MIN_CHUNK_TOKENS = 500


@dataclass(frozen=True)
class SummarizerConfig:
    prompts: PromptSet
    token_budget: int
    max_output_tokens: int
    map_concurrency: int


@dataclass(frozen=True)
class SummaryResult:
    summary: CallSummary
    model: str
    usage: TokenUsage
    estimated_cost_usd: float | None
    chunks: int
    map_requests: int
    reduce_requests: int


class Summarizer:
    def __init__(self, model: LanguageModel, config: SummarizerConfig, timeout: Callable[[], float]) -> None:
        """`timeout()` gives the timeout for the next request (and raises when no time is left)."""
        self._model = model
        self._config = config
        self._timeout = timeout
        self._replies: list[StructuredReply[CallSummary]] = []

    def summarize(self, lines: Sequence[str], language: str | None) -> SummaryResult:
        prompts, hint = self._config.prompts, language_hint(language)
        self._replies = []
        transcript = "\n".join(lines)
        single = prompts.render_single(transcript, hint)
        if self._tokens(single) <= self._config.token_budget:
            final = self._ask(single, "single")
            return self._result(final, chunks=1, map_requests=0, reduce_requests=0)

        overhead = self._tokens(prompts.render_map("", hint, part=999, parts=999))
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
            prompt = prompts.render_map("\n".join(chunks[index]), hint, part=index + 1, parts=total)
            return self._request(prompt, f"map {index + 1}/{total}")

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
                prompt = prompts.render_reduce(_as_json(group), hint, parts=len(group))
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
            prompt = prompts.render_reduce(_as_json(candidate), hint, parts=len(candidate))
            if len(current) >= 2 and self._tokens(prompt) > self._config.token_budget:
                groups.append(current)
                current = [part]
            else:
                current = candidate
        if current:
            groups.append(current)
        return groups

    def _ask(self, prompt: str, purpose: str) -> StructuredReply[CallSummary]:
        reply = self._request(prompt, purpose)
        self._replies.append(reply)
        return reply

    def _request(self, prompt: str, purpose: str) -> StructuredReply[CallSummary]:
        return self._model.structured(
            StructuredRequest(
                system=self._config.prompts.system,
                prompt=prompt,
                output=CallSummary,
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
        usage = TokenUsage()
        cost: float | None = 0.0
        for reply in self._replies:
            usage = usage.plus(reply.usage)
            one = request_cost(reply.model, reply.usage)
            cost = None if cost is None or one is None else cost + one
        return SummaryResult(
            summary=final.value,
            model=final.model,
            usage=usage,
            estimated_cost_usd=None if cost is None else round(cost, 8),
            chunks=chunks,
            map_requests=map_requests,
            reduce_requests=reduce_requests,
        )


def _as_json(parts: Sequence[CallSummary]) -> str:
    """Part summaries for the reduce prompt. They are model output that may quote the caller, so
    `<`, `>` and `&` are written as JSON's `\\u003c`, `\\u003e` and `\\u0026` (still valid JSON, same
    values): nothing in them can close the `<part_summaries>` tag around them."""
    text = json.dumps(
        [{"part": i, **part.model_dump(mode="json")} for i, part in enumerate(parts, start=1)],
        ensure_ascii=False,
        indent=1,
    )
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
