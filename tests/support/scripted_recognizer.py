"""A deterministic `Recognizer` for tests: what it "hears" is spelled by the audio bytes themselves.

Audio is cut into 0.5 s blocks (4000 bytes of 8 kHz mu-law). A block whose most common byte is one
of `WORD_BYTES` is heard as that word, spanning the block; mu-law silence (0xFF) is heard as nothing.
Every `final_blocks` blocks it emits one final result (is_final, speech_final when the stretch ends
in silence) and an interim result after each other block, on the connection's own clock, exactly
as Deepgram does. So a test that sends `audio_for(["alpha", None, "bravo", ...])` knows which words,
at which stream times, every stored segment must have, across reconnects and replays.
"""

from __future__ import annotations

from collections import Counter

from callscribe_local.recognizer import Hypothesis, RecognizerFactory, Word

BLOCK_BYTES = 4000
BLOCK_SECONDS = 0.5
SILENCE = 0xFF
VOCABULARY = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip
WORD_BYTES = {0x20 + i: word for i, word in enumerate(VOCABULARY)}
BYTE_FOR_WORD = {word: byte for byte, word in WORD_BYTES.items()}


def audio_for(words: list[str | None]) -> bytes:
    """0.5 s of audio per entry: the word's byte repeated, or silence for None."""
    return b"".join(bytes([BYTE_FOR_WORD[w] if w else SILENCE]) * BLOCK_BYTES for w in words)


class ScriptedRecognizer:
    def __init__(self, final_blocks: int = 2) -> None:
        self.final_blocks = final_blocks
        self._block = bytearray()
        self._pos = 0.0  # seconds of audio heard, on this connection's clock
        self._final_start = 0.0
        self._blocks_since_final = 0
        self._words: list[Word] = []
        self._last_block_silent = True

    @classmethod
    def factory(cls, final_blocks: int = 2) -> RecognizerFactory:
        return lambda params: cls(final_blocks)

    def accept(self, mulaw: bytes) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        view = memoryview(mulaw)
        while view:
            take = min(len(view), BLOCK_BYTES - len(self._block))
            self._block.extend(view[:take])
            view = view[take:]
            if len(self._block) == BLOCK_BYTES:
                self._close_block()
                if self._blocks_since_final >= self.final_blocks:
                    out.append(self._final(from_finalize=False))
                else:
                    out.append(self._interim())
        return out

    def finalize(self) -> list[Hypothesis]:
        if self._block:
            self._close_block()
        if self._pos <= self._final_start:
            return []
        return [self._final(from_finalize=True)]

    def _close_block(self) -> None:
        start = self._pos
        length = len(self._block) / 8000
        byte, _ = Counter(self._block).most_common(1)[0]
        word = WORD_BYTES.get(byte)
        if word is not None:
            self._words.append(Word(word=word, start=start, end=start + length, confidence=0.99))
        self._last_block_silent = word is None
        self._block.clear()
        self._pos += length
        self._blocks_since_final += 1

    def _final(self, from_finalize: bool) -> Hypothesis:
        hyp = Hypothesis(
            words=tuple(self._words),
            start=self._final_start,
            duration=self._pos - self._final_start,
            is_final=True,
            speech_final=self._last_block_silent,
            from_finalize=from_finalize,
        )
        self._words = []
        self._final_start = self._pos
        self._blocks_since_final = 0
        return hyp

    def _interim(self) -> Hypothesis:
        return Hypothesis(
            words=tuple(self._words),
            start=self._final_start,
            duration=self._pos - self._final_start,
            is_final=False,
        )
