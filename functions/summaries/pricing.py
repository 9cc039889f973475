"""Estimated cost of a summary from the token usage the API reported and a price table.

Prices are USD per million tokens from Anthropic's published pricing (late 2026). The table is a
best estimate for dashboards and budgets, not an invoice: unknown models get no estimate (None)
rather than a wrong one, and the offline demo's extractive stand-in costs nothing.

On Amazon Bedrock the same models cost Anthropic's list price through a global inference profile
and `BEDROCK_REGIONAL_PREMIUM` times it in-Region or through a geographic profile (`us.`, `eu.`, …):
the price follows the id the request named (its route), whatever model id the response reports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from functions.summaries.summary import TokenUsage
from shared.bedrock_models import BedrockModelId

# Bedrock's regional endpoints and geographic profiles bill Claude 4.5 and later 10 % above the
# global profile, which bills Anthropic's list price (AWS, "Global cross-Region inference").
BEDROCK_REGIONAL_PREMIUM = 1.10


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


def list_price(model: str) -> Price | None:
    """Anthropic's list price of `model`, matching dated ids (claude-haiku-4-5-20251001) to their
    alias, and a Bedrock id (us.anthropic.claude-haiku-5-5) to the model it names."""
    if BedrockModelId.looks_like(model):
        model = BedrockModelId.parse(model).anthropic_alias
    if model in PRICES:
        return PRICES[model]
    for alias in sorted(PRICES, key=len, reverse=True):
        if model.startswith(alias + "-"):
            return PRICES[alias]
    return None


def bedrock_multiplier(bedrock_model_id: str) -> float:
    """What Bedrock bills for a request naming `bedrock_model_id`, as a multiple of the list price."""
    return 1.0 if BedrockModelId.parse(bedrock_model_id).is_global else BEDROCK_REGIONAL_PREMIUM


def price_for(model: str) -> Price | None:
    """What a request naming `model` costs: the list price, or for a Bedrock id its route's price."""
    price = list_price(model)
    if price is None or not BedrockModelId.looks_like(model):
        return price
    return _scaled(price, bedrock_multiplier(model))


def _scaled(price: Price, factor: float) -> Price:
    if factor == 1.0:
        return price

    def times(rate: float | None) -> float | None:
        return None if rate is None else rate * factor

    return replace(
        price,
        input=price.input * factor,
        output=price.output * factor,
        cache_write=price.cache_write * factor,
        cache_read=price.cache_read * factor,
        long_input=times(price.long_input),
        long_output=times(price.long_output),
    )


def request_cost(model: str, usage: TokenUsage, *, bedrock_model_id: str | None = None) -> float | None:
    """Cost of one request (the long-context tier applies per request, by its own prompt size).
    `model` is what the response reported; `bedrock_model_id`, on Bedrock, what the request named."""
    price = list_price(model)
    if price is None:
        return None
    if bedrock_model_id is not None:
        price = _scaled(price, bedrock_multiplier(bedrock_model_id))
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
