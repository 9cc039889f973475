from __future__ import annotations

import pytest

from functions.summaries.chunking import estimate_tokens, split_lines
from functions.summaries.pricing import price_for, request_cost
from functions.summaries.summary import TokenUsage


def test_estimate_is_chars_over_three_and_a_half() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("x" * 7) == 2
    assert estimate_tokens("x" * 8) == 3


def test_chunks_keep_every_line_in_order_within_budget() -> None:
    lines = [f"[00:00:{i % 60:02d}] caller: line number {i} " + "word " * (i % 7) for i in range(200)]
    chunks = split_lines(lines, max_tokens=300)
    assert len(chunks) > 1
    assert [line for chunk in chunks for line in chunk] == lines
    for chunk in chunks:
        assert sum(estimate_tokens(line + "\n") for line in chunk) <= 300


def test_a_line_longer_than_a_chunk_is_split_at_words() -> None:
    long_line = "[00:00:01] caller: " + " ".join(f"w{i}" for i in range(2000))
    chunks = split_lines([long_line], max_tokens=100)
    assert len(chunks) > 1
    pieces = [piece for chunk in chunks for piece in chunk]
    assert " ".join(pieces) == long_line
    assert all(estimate_tokens(piece + "\n") <= 100 for piece in pieces)


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_lines(["x"], 0)


def test_cost_of_haiku_5_5() -> None:
    usage = TokenUsage(requests=1, input_tokens=4_000, output_tokens=500)
    assert request_cost("claude-haiku-5-5", usage) == pytest.approx((4_000 * 0.10 + 500 * 0.50) / 1e6)


def test_long_prompts_use_the_long_context_rate() -> None:
    usage = TokenUsage(requests=1, input_tokens=150_000, output_tokens=1_000)
    assert request_cost("claude-haiku-5-5", usage) == pytest.approx((150_000 * 0.50 + 1_000 * 2.50) / 1e6)


def test_cache_tokens_are_priced() -> None:
    usage = TokenUsage(
        input_tokens=0,
        output_tokens=0,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    assert request_cost("claude-sonnet-5-5", usage) == pytest.approx(2.50 + 0.10)


def test_dated_ids_match_their_alias_and_unknown_models_have_no_price() -> None:
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    assert request_cost("some-other-model", TokenUsage(input_tokens=10)) is None
    assert request_cost("offline-extractive", TokenUsage(input_tokens=10, output_tokens=10)) == 0.0
