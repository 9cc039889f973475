"""Estimated cost of a summary from the token usage the API reported and a price table.

Prices are USD per million tokens from Anthropic's published pricing (late 2026). The table is a
best estimate for dashboards and budgets, not an invoice: unknown models get no estimate (None)
rather than a wrong one, and the offline demo's extractive stand-in costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.summaries.summary import TokenUsage


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float  # 5-minute cache writes (1.25x input)
    cache_read: float  # 0.1x input
    # Prompts above `long_context_threshold` input tokens are billed at the long-context rates.
    long_context_threshold: int | None = None
    long_input: float | None = None
    long_output: float | None = None


def _standard(input_price: float, output_price: float) -> Price:
    return Price(input_price, output_price, input_price * 1.25, input_price * 0.1)


PRICES: dict[str, Price] = {
    "claude-haiku-5-5": Price(0.10, 0.50, 0.125, 0.01, 100_000, 0.50, 2.50),
    "claude-sonnet-5-5": Price(2.0, 10.0, 2.50, 0.10),
    "claude-opus-5-5": _standard(4.0, 20.0),
    "claude-fable-5-1": _standard(10.0, 50.0),
    "claude-opus-5": _standard(5.0, 25.0),
    "claude-sonnet-5": _standard(2.0, 10.0),
    "claude-haiku-4-5": _standard(1.0, 5.0),
    "offline-extractive": Price(0.0, 0.0, 0.0, 0.0),
}


def price_for(model: str) -> Price | None:
    """The price of `model`, matching dated ids (claude-haiku-4-5-20251001) to their alias."""
    if model in PRICES:
        return PRICES[model]
    for alias in sorted(PRICES, key=len, reverse=True):
        if model.startswith(alias + "-"):
            return PRICES[alias]
    return None


def request_cost(model: str, usage: TokenUsage) -> float | None:
    """Cost of one request (the long-context tier applies per request, by its own prompt size)."""
    price = price_for(model)
    if price is None:
        return None
    prompt_tokens = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    input_rate, output_rate = price.input, price.output
    if price.long_context_threshold is not None and prompt_tokens > price.long_context_threshold:
        input_rate = price.long_input or input_rate
        output_rate = price.long_output or output_rate
    dollars = (
        usage.input_tokens * input_rate
        + usage.output_tokens * output_rate
        + usage.cache_creation_input_tokens * price.cache_write
        + usage.cache_read_input_tokens * price.cache_read
    ) / 1_000_000
    return round(dollars, 8)
