"""Token estimates and transcript chunking for the map-reduce path.

The estimate is deliberately cheap and pessimistic (characters / 3.5): counting tokens exactly would
cost a request per call. Chunks break only between transcript lines (a line longer than a chunk is
split at word boundaries), so no sentence is cut mid-word and every line keeps its timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

CHARS_PER_TOKEN = 3.5


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def split_lines(lines: Sequence[str], max_tokens: int) -> list[list[str]]:
    """Consecutive groups of `lines`, each estimated at no more than `max_tokens` (newlines included)."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    chunks: list[list[str]] = []
    current: list[str] = []
    current_tokens = 0
    for line in lines:
        for piece in _fit(line, max_tokens):
            cost = estimate_tokens(piece + "\n")
            if current and current_tokens + cost > max_tokens:
                chunks.append(current)
                current, current_tokens = [], 0
            current.append(piece)
            current_tokens += cost
    if current:
        chunks.append(current)
    return chunks


def _fit(line: str, max_tokens: int) -> list[str]:
    """`line` itself, or word-bounded pieces of it when it alone exceeds the budget."""
    if estimate_tokens(line + "\n") <= max_tokens:
        return [line]
    max_chars = max(1, int(max_tokens * CHARS_PER_TOKEN) - 1)
    pieces: list[str] = []
    current = ""
    for word in line.split(" "):
        while len(word) > max_chars:  # a "word" longer than a chunk: cut it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:max_chars])
            word = word[max_chars:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces
