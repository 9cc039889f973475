"""A `ScriptedRecognizer` that hears whole phrases: one 0.5 s block of one byte is one phrase.

For tests that need a recogniser to say particular things (card numbers in digits or words, an SSN)
rather than the NATO alphabet: `PhraseBook` assigns each phrase a byte, `audio_for` spells a
conversation as blocks, and the recogniser (live stand-in and pre-recorded alike, since both take a
`RecognizerFactory`) emits the phrase's words spread evenly over the block.
"""

from __future__ import annotations

from collections import Counter

from callscribe_local.recognizer import RecognizerFactory, Word
from tests.support.scripted_recognizer import BLOCK_BYTES, SILENCE, ScriptedRecognizer

FIRST_BYTE = 0x60  # above the scripted recogniser's word bytes, below mu-law silence


class PhraseBook:
    def __init__(self, *phrases: str) -> None:
        self.phrases = {FIRST_BYTE + i: phrase for i, phrase in enumerate(phrases)}
        self._bytes = {phrase: byte for byte, phrase in self.phrases.items()}

    def audio_for(self, blocks: list[str | None]) -> bytes:
        """0.5 s of audio per entry: the phrase's byte repeated, or silence for None."""
        return b"".join(bytes([self._bytes[p] if p else SILENCE]) * BLOCK_BYTES for p in blocks)

    def factory(self, final_blocks: int = 2) -> RecognizerFactory:
        return lambda params: PhraseRecognizer(self, final_blocks)


class PhraseRecognizer(ScriptedRecognizer):
    def __init__(self, book: PhraseBook, final_blocks: int = 2) -> None:
        super().__init__(final_blocks)
        self._book = book

    def _close_block(self) -> None:
        start = self._pos
        length = len(self._block) / 8000
        byte, _ = Counter(self._block).most_common(1)[0]
        phrase = self._book.phrases.get(byte)
        if phrase is not None:
            words = phrase.split()
            step = length / len(words)
            for index, word in enumerate(words):
                at = start + index * step
                self._words.append(Word(word=word, start=at, end=at + step, confidence=0.99))
        self._last_block_silent = phrase is None
        self._block.clear()
        self._pos += length
        self._blocks_since_final += 1
