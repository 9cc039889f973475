"""The pocketsphinx recogniser behind the local Deepgram stand-in, on the project's bundled audio.

No network: the recogniser is fed 20 ms mu-law frames exactly as the stand-in feeds it. Text
assertions are loose on purpose (pocketsphinx is rough on phone audio), timing ones are not: times
must be on the connection's audio clock, inside the turn that was spoken.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from callscribe_local.recognizer import Hypothesis, RecognizerBusyError
from callscribe_local.sphinx_recognizer import (
    MODEL_NAME,
    SphinxOptions,
    SphinxRecognizer,
    SphinxRecognizerFactory,
    _clean_word,
    default_decoder_factory,
)

AUDIO = Path(__file__).resolve().parents[2] / "callscribe_local" / "audio"
FRAME = 160


@pytest.fixture(scope="module")
def factory() -> Iterator[SphinxRecognizerFactory]:
    made = SphinxRecognizerFactory()
    yield made
    made.close()


@pytest.fixture(scope="module")
def first_turn() -> tuple[bytes, dict[str, float]]:
    """The caller's first sentence plus the pause after it, and where the manifest says it lies."""
    turn = json.loads((AUDIO / "conversation.json").read_text())["turns"][0]
    audio = (AUDIO / "caller.ulaw").read_bytes()
    cut = int((turn["end"] + 0.6) * 8000) // FRAME * FRAME
    return audio[:cut], {"start": turn["start"], "end": turn["end"]}


def _feed(recognizer: SphinxRecognizer, audio: bytes) -> list[Hypothesis]:
    out: list[Hypothesis] = []
    for offset in range(0, len(audio), FRAME):
        out += recognizer.accept(audio[offset : offset + FRAME])
    # The worker decodes asynchronously: keep feeding silence (as Twilio does) until it catches up.
    deadline = time.monotonic() + 20
    while not any(h.is_final for h in out) and time.monotonic() < deadline:
        out += recognizer.accept(b"\xff" * FRAME)
        time.sleep(0.01)
    return out


def test_recognises_the_first_turn_on_the_audio_clock(
    factory: SphinxRecognizerFactory, first_turn: tuple[bytes, dict[str, float]]
) -> None:
    audio, turn = first_turn
    hypotheses = _feed(factory({"model": "nova-3"}), audio)

    finals = [h for h in hypotheses if h.is_final]
    interims = [h for h in hypotheses if not h.is_final]
    assert len(finals) == 1
    final = finals[0]
    assert final.speech_final
    assert not final.from_finalize
    heard = set(final.transcript.split())
    assert heard & {"delivery", "tomorrow", "morning", "home", "scheduled"}, final.transcript
    # Endpointing lags a few hundred ms at most; the words sit inside the spoken turn.
    assert turn["start"] - 0.4 <= final.start <= turn["start"] + 0.6
    assert turn["end"] - 1.0 <= final.start + final.duration <= turn["end"] + 0.8
    assert all(final.start <= w.start < w.end <= final.start + final.duration + 0.05 for w in final.words)
    assert [w.start for w in final.words] == sorted(w.start for w in final.words)
    assert all(0.0 < w.confidence <= 1.0 for w in final.words)
    # Interim partials while talking, at most about one per second of speech.
    assert interims
    assert len(interims) <= (turn["end"] - turn["start"]) + 1
    assert all(i.start == final.start for i in interims)


def test_finalize_flushes_the_utterance_in_progress(
    factory: SphinxRecognizerFactory, first_turn: tuple[bytes, dict[str, float]]
) -> None:
    audio, turn = first_turn
    recognizer = factory({})
    mid_sentence = int((turn["start"] + 3.0) * 8000) // FRAME * FRAME
    before: list[Hypothesis] = []
    for offset in range(0, mid_sentence, FRAME):
        before += recognizer.accept(audio[offset : offset + FRAME])

    flushed = recognizer.finalize()

    assert not any(h.is_final for h in before)
    finals = [h for h in flushed if h.is_final]
    assert len(finals) == 1
    assert finals[0].from_finalize
    assert not finals[0].speech_final
    assert finals[0].words
    assert finals[0].start + finals[0].duration <= turn["start"] + 3.1
    assert recognizer.finalize() == []  # nothing left: a second Finalize flushes nothing


def test_silence_yields_nothing(factory: SphinxRecognizerFactory) -> None:
    recognizer = factory({})
    out: list[Hypothesis] = []
    for _ in range(100):  # 2 s
        out += recognizer.accept(b"\xff" * FRAME)
    out += recognizer.finalize()
    assert out == []


def test_model_name_says_offline_pocketsphinx() -> None:
    assert "pocketsphinx" in MODEL_NAME
    assert "offline" in MODEL_NAME
    assert SphinxRecognizerFactory.model == MODEL_NAME


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("scheduled(2)", "scheduled"), ("<sil>", None), ("[NOISE]", None), ("</s>", None), ("home", "home")],
)
def test_markers_and_pronunciation_variants(raw: str, clean: str | None) -> None:
    assert _clean_word(raw) == clean


# -- decoders are pooled: bounded, reused across connections, given back on close --------------------


class FakeDecoder:
    """Stands in for pocketsphinx's Decoder (which loads ~180 MB of model): counts its utterances."""

    def __init__(self) -> None:
        self.in_utterance = False
        self.utterances = 0

    def start_utt(self) -> None:
        assert not self.in_utterance, "a reused decoder must be handed over with no utterance open"
        self.in_utterance = True
        self.utterances += 1

    def process_raw(self, pcm: bytes, no_search: bool = False, full_utt: bool = False) -> None:
        assert self.in_utterance

    def end_utt(self) -> None:
        self.in_utterance = False

    def seg(self) -> list[object]:
        return []


@pytest.fixture
def pooled() -> Iterator[SphinxRecognizerFactory]:
    made = SphinxRecognizerFactory(max_decoders=2, decoder_factory=FakeDecoder)
    yield made
    made.close()


def _session(factory: SphinxRecognizerFactory, audio: bytes = b"\xff" * FRAME * 10) -> SphinxRecognizer:
    """A connection that has used its decoder (finalize decodes on the caller's thread)."""
    recognizer = factory({})
    for offset in range(0, len(audio), FRAME):
        recognizer.accept(audio[offset : offset + FRAME])
    recognizer.finalize()
    return recognizer


def test_closed_sessions_give_their_decoder_back_for_the_next_one(pooled: SphinxRecognizerFactory) -> None:
    for _ in range(10):
        _session(pooled).close()
    assert pooled.decoders.created == 1  # one decoder served ten connections in turn
    assert pooled.decoders.leased == 0


def test_decoders_never_outnumber_the_pool(pooled: SphinxRecognizerFactory) -> None:
    for _ in range(5):
        pair = [_session(pooled), _session(pooled)]
        assert not pooled.available()
        with pytest.raises(RecognizerBusyError):
            pooled({})  # the stand-in answers this 429, as Deepgram does over its limit
        for recognizer in pair:
            recognizer.close()
        assert pooled.available()
    assert pooled.decoders.created == 2


def test_close_ends_an_open_utterance_and_is_idempotent(
    pooled: SphinxRecognizerFactory, first_turn: tuple[bytes, dict[str, float]]
) -> None:
    audio, turn = first_turn
    recognizer = pooled({})
    mid_sentence = int((turn["start"] + 2.0) * 8000) // FRAME * FRAME
    _feed_until(recognizer, audio[:mid_sentence], lambda: recognizer.lease.decoder().in_utterance)
    decoder = recognizer.lease.decoder()
    assert decoder.in_utterance  # cut off mid-sentence
    recognizer.close()
    recognizer.close()
    assert not decoder.in_utterance
    assert pooled.decoders.leased == 0
    assert pooled({}).lease.decoder() is decoder  # the same one, clean
    assert pooled.decoders.created == 1


class WordyDecoder(FakeDecoder):
    """A fake decoder that "hears" one word per utterance, so transcripts are not empty."""

    def seg(self) -> list[object]:
        return [SimpleNamespace(word=f"word{self.utterances}", start_frame=0, end_frame=9, prob=0.9)]


def _transcribed(factory: SphinxRecognizerFactory, audio: bytes) -> list[Hypothesis]:
    """One pre-recorded request's worth: a fresh recognizer, all the audio, closed."""
    recognizer = factory({})
    try:
        return recognizer.transcribe(audio)
    finally:
        recognizer.close()


def test_audio_transcribed_before_is_answered_from_the_memo(
    first_turn: tuple[bytes, dict[str, float]],
) -> None:
    """The pre-recorded API's memo: the same audio again is not decoded again and gets the same
    hypotheses (decoding is deterministic); other audio is decoded."""
    audio, _ = first_turn
    decoders: list[WordyDecoder] = []

    def build() -> WordyDecoder:
        decoders.append(WordyDecoder())
        return decoders[-1]

    factory = SphinxRecognizerFactory(max_decoders=1, decoder_factory=build)
    try:
        first = _transcribed(factory, audio)
        assert first
        assert [w.word for h in first if h.is_final for w in h.words] == ["word1"]
        assert _transcribed(factory, audio) == first
        assert (sum(d.utterances for d in decoders), factory.transcripts.hits) == (1, 1)
        other = _transcribed(factory, audio[: len(audio) // 2])  # another recording: decoded
        assert [w.word for h in other if h.is_final for w in h.words] == ["word2"]
        assert (sum(d.utterances for d in decoders), factory.transcripts.hits) == (2, 1)
        assert factory.decoders.leased == 0
    finally:
        factory.close()


def test_a_reused_decoder_recognises_like_a_fresh_one(first_turn: tuple[bytes, dict[str, float]]) -> None:
    """Real pocketsphinx, pool of one: a connection cut off mid-sentence hands its decoder to the
    next, which must hear the whole turn as a fresh decoder would."""
    audio, turn = first_turn
    factory = SphinxRecognizerFactory(max_decoders=1)
    try:
        cut_off = factory({})
        mid_sentence = int((turn["start"] + 2.0) * 8000) // FRAME * FRAME
        _feed_until(cut_off, audio[:mid_sentence], lambda: cut_off._decoding is not None)
        cut_off.close()
        finals = [h for h in _feed(factory({}), audio) if h.is_final]
        assert factory.decoders.created == 1
        assert len(finals) == 1
        assert turn["start"] - 0.4 <= finals[0].start <= turn["start"] + 0.6
        assert set(finals[0].transcript.split()) & {"delivery", "tomorrow", "morning", "home", "scheduled"}
    finally:
        factory.close()


def _feed_until(recognizer: SphinxRecognizer, audio: bytes, done: Callable[[], bool]) -> None:
    for offset in range(0, len(audio), FRAME):
        recognizer.accept(audio[offset : offset + FRAME])
    deadline = time.monotonic() + 20
    while not done() and time.monotonic() < deadline:
        recognizer.accept(b"")
        time.sleep(0.01)


def test_the_stack_reconciles_as_many_recordings_at_once_as_the_decoders_hold() -> None:
    """Each two-channel recording holds two decoders while it is transcribed; one live call's two stay
    free. The default pool (six) takes two reconciliations; a smaller one, fewer, never none."""
    from callscribe_local.stack import RECORDINGS_CONCURRENCY, recordings_concurrency

    def pool(size: int) -> SphinxRecognizerFactory:
        return SphinxRecognizerFactory(max_decoders=size, decoder_factory=FakeDecoder)

    assert recordings_concurrency(SphinxRecognizerFactory(decoder_factory=FakeDecoder)) == 2
    assert [recordings_concurrency(pool(size)) for size in (1, 2, 4, 5, 6, 12)] == [1, 1, 1, 1, 2, 2]
    assert recordings_concurrency(None) == RECORDINGS_CONCURRENCY  # real Deepgram: no local pool


def test_a_batch_is_transcribed_in_a_worker_process_as_it_would_be_here(
    first_turn: tuple[bytes, dict[str, float]],
) -> None:
    """pocketsphinx holds the GIL while it decodes: the stand-in's own decoders transcribe batches
    in a worker process, hearing exactly what a decoder in this process hears, and leave no decoder
    here (the lease stands for the worker's)."""
    audio, _ = first_turn
    out_of_process = SphinxRecognizerFactory(max_decoders=1)
    here = SphinxRecognizerFactory(max_decoders=1, decoder_factory=default_decoder_factory(SphinxOptions()))
    try:
        assert out_of_process.batch is not None
        assert here.batch is None
        heard = _transcribed(out_of_process, audio)
        assert heard == _transcribed(here, audio)
        assert [h for h in heard if h.is_final]
        assert out_of_process.decoders.created == 0
        assert out_of_process.decoders.leased == 0
    finally:
        out_of_process.close()
        here.close()
