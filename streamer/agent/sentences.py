"""Cut the model's streamed text into sentences, so speech starts after the first one, not the reply.

A sentence ends at `.`, `!` or `?` (optionally followed by closing quotes/brackets) followed by
whitespace; very long runs without one are cut at a comma or space once they pass `max_chars`, so a
run-on answer still starts playing early. Abbreviations like "Dr." may split early: harmless for TTS.
"""

from __future__ import annotations

import re

_END = re.compile(r"[.!?]+[\"')\]]*\s+")


class SentenceSplitter:
    def __init__(self, max_chars: int = 240) -> None:
        self._buffer = ""
        self._max = max_chars

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        out: list[str] = []
        while True:
            match = _END.search(self._buffer)
            if match is not None:
                sentence, self._buffer = self._buffer[: match.end()], self._buffer[match.end() :]
            elif len(self._buffer) > self._max:
                cut = max(self._buffer.rfind(", ", 0, self._max), self._buffer.rfind(" ", 0, self._max))
                if cut <= 0:
                    cut = self._max
                sentence, self._buffer = self._buffer[: cut + 1], self._buffer[cut + 1 :]
            else:
                return out
            if sentence.strip():
                out.append(sentence.strip())

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []


def split_sentences(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()
