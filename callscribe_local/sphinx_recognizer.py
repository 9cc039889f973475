"""Offline speech recognition for the local Deepgram stand-in: pocketsphinx, streaming, endpointed.

Per connection, on its own audio clock: 8 kHz mu-law upsampled to the model's 16 kHz (resampler
state carried across chunks), a voice-activity endpointer cutting utterances, one final hypothesis
per utterance with word times, interims at most once per `interim_interval`, `finalize()` flushing
(Deepgram's Finalize / CloseStream). Batch transcriptions run in worker processes (`BatchProcesses`).
Must keep: nothing decodes on the stand-in's event loop (`accept()` only queues and returns what a
worker has finished); at most `max_decoders` decoders exist (`DecoderPool`: leased at open, reset
and returned at close, 429 beyond it), batch requests included; the model name it reports says it
is not Deepgram. Why pocketsphinx, its costs and memory: docs/local.md, "The parts".
Over 350 lines: the streaming recogniser, its pool and the batch workers share one decoding core.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, ClassVar

from callscribe_local import g711
from callscribe_local.recognizer import Hypothesis, RecognizerBusyError, Word

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib up to 3.12; the audioop-lts backport on 3.13+

MODEL_NAME = "pocketsphinx-en-us-offline"

IN_RATE = 8000  # Twilio Media Streams: 8 kHz mu-law, one byte per sample
DECODER_RATE = 16000  # what pocketsphinx's bundled acoustic model was trained on
SAMPLE_WIDTH = 2
FRAMES_PER_SECOND = 100  # pocketsphinx's default frame rate (-frate)

# pocketsphinx marks that are not words: sentence bounds, silence, fillers and noise
_NOT_WORDS = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UM]"})


@dataclass(frozen=True)
class SphinxOptions:
    """Tuning that matters for phone audio; defaults suit the bundled conversation."""

    endpoint_window: float = 0.3  # seconds of (non-)speech the endpointer needs to switch state
    endpoint_ratio: float = 0.9  # fraction of that window that must agree
    interim_interval: float = 1.0  # at most one interim result per this much audio
    loglevel: str = "FATAL"


def _clean_word(raw: str) -> str | None:
    """`scheduled(2)` is pronunciation variant 2 of `scheduled`; markers are not words."""
    if raw in _NOT_WORDS or raw.startswith("++") or (raw.startswith("[") and raw.endswith("]")):
        return None
    if raw.endswith(")") and "(" in raw:
        raw = raw[: raw.index("(")]
    return raw or None


def _confidence(segment: Any) -> float:
    prob = getattr(segment, "prob", None)
    if isinstance(prob, float) and 0.0 < prob <= 1.0:
        return round(prob, 3)
    return 0.5  # pocketsphinx gives no usable posterior without a lattice pass: say "unsure"


class DecoderPool:
    """At most `size` decoders, built on first need and reused across connections (thread-safe).

    A connection holds one lease for its lifetime and at most one decoder through it, so leases
    bound the decoders: `created` never exceeds `size`, and a closed connection's decoder serves
    the next one instead of a new model load.
    """

    def __init__(self, build: Callable[[], Any], size: int) -> None:
        if size < 1:
            raise ValueError("a decoder pool needs room for at least one decoder")
        self._build = build
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._leased = 0
        self.created = 0

    def available(self) -> bool:
        with self._lock:
            return self._leased < self.size

    @property
    def leased(self) -> int:
        with self._lock:
            return self._leased

    def lease(self) -> DecoderLease:
        """A slot for one connection; `RecognizerBusyError` when every slot is taken."""
        with self._lock:
            if self._leased >= self.size:
                raise RecognizerBusyError(f"all {self.size} pocketsphinx decoders are in use")
            self._leased += 1
        return DecoderLease(self)

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.created += 1
        return self._build()  # outside the lock: loading the model takes ~0.7 s

    def _give_back(self, decoder: Any | None) -> None:
        with self._lock:
            if decoder is not None:
                self._idle.append(decoder)
            self._leased -= 1


class DecoderLease:
    """One connection's slot in the pool: `decoder()` takes (once) a decoder, `release()` returns
    both. Releasing twice is harmless."""

    def __init__(self, pool: DecoderPool) -> None:
        self._pool = pool
        self._decoder: Any | None = None
        self._released = False
        self._lock = threading.Lock()

    def decoder(self) -> Any:
        with self._lock:
            if self._released:
                raise RuntimeError("decoder lease already released")
            if self._decoder is None:
                self._decoder = self._pool._take()
            return self._decoder

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            decoder, self._decoder = self._decoder, None
        self._pool._give_back(decoder)


class _Decoding:
    """The decoder-side state of one connection. Only ever touched by one thread at a time."""

    def __init__(self, options: SphinxOptions, decoder: Any) -> None:
        from pocketsphinx import Endpointer

        self._options = options
        self._decoder = decoder
        self._endpointer = Endpointer(
            window=options.endpoint_window, ratio=options.endpoint_ratio, sample_rate=DECODER_RATE
        )
        self._frame_bytes: int = self._endpointer.frame_bytes
        self._pcm = bytearray()  # 16 kHz PCM not yet a whole endpointer frame
        self._ratecv_state: Any = None
        self._in_utterance = False
        self._utterance_start = 0.0
        self._utterance_audio = 0.0  # seconds fed to the decoder in this utterance
        self._last_interim_at = 0.0
        self._last_interim_text = ""
        self._clock = 0.0  # seconds of connection audio seen (the endpointer's clock)

    def feed(self, mulaw: bytes) -> list[Hypothesis]:
        linear = g711.ulaw_to_pcm16(mulaw)
        upsampled, self._ratecv_state = audioop.ratecv(
            linear, SAMPLE_WIDTH, 1, IN_RATE, DECODER_RATE, self._ratecv_state
        )
        self._pcm += upsampled
        self._clock += len(mulaw) / IN_RATE
        out: list[Hypothesis] = []
        while len(self._pcm) >= self._frame_bytes:
            frame = bytes(self._pcm[: self._frame_bytes])
            del self._pcm[: self._frame_bytes]
            was_in_speech = self._endpointer.in_speech
            speech = self._endpointer.process(frame)
            if speech is None:
                continue
            if not was_in_speech and not self._in_utterance:
                self._begin(self._endpointer.speech_start)
            self._decode(speech)
            if not self._endpointer.in_speech:
                out.extend(self._end(self._endpointer.speech_end, from_finalize=False))
            else:
                out.extend(self._maybe_interim())
        return out

    def flush(self) -> list[Hypothesis]:
        """End the utterance in progress, if any, as final (Finalize / CloseStream)."""
        if not self._in_utterance:
            return []
        if self._endpointer.in_speech:
            rest = self._endpointer.end_stream(bytes(self._pcm))
            self._pcm.clear()
            if rest:
                self._decode(rest)
        end = self._utterance_start + self._utterance_audio
        return self._end(end, from_finalize=True)

    def abandon(self) -> None:
        """The connection is gone: end an utterance in progress so the decoder is clean for reuse."""
        if self._in_utterance:
            self._decoder.end_utt()
            self._in_utterance = False

    def _begin(self, start: float) -> None:
        self._decoder.start_utt()
        self._in_utterance = True
        self._utterance_start = start
        self._utterance_audio = 0.0
        self._last_interim_at = 0.0
        self._last_interim_text = ""

    def _decode(self, pcm: bytes) -> None:
        self._decoder.process_raw(pcm, no_search=False, full_utt=False)
        self._utterance_audio += len(pcm) / (DECODER_RATE * SAMPLE_WIDTH)

    def _words(self) -> tuple[Word, ...]:
        words: list[Word] = []
        for segment in self._decoder.seg():
            text = _clean_word(segment.word)
            if text is None:
                continue
            start = self._utterance_start + segment.start_frame / FRAMES_PER_SECOND
            end = self._utterance_start + (segment.end_frame + 1) / FRAMES_PER_SECOND
            words.append(Word(text, round(start, 3), round(end, 3), _confidence(segment)))
        return tuple(words)

    def _maybe_interim(self) -> list[Hypothesis]:
        if self._utterance_audio - self._last_interim_at < self._options.interim_interval:
            return []
        self._last_interim_at = self._utterance_audio
        words = self._words()
        text = " ".join(w.word for w in words)
        if not words or text == self._last_interim_text:
            return []
        self._last_interim_text = text
        return [
            Hypothesis(
                words=words,
                start=round(self._utterance_start, 3),
                duration=round(self._utterance_audio, 3),
                is_final=False,
            )
        ]

    def _end(self, end: float, *, from_finalize: bool) -> list[Hypothesis]:
        self._decoder.end_utt()
        self._in_utterance = False
        words = self._words()
        if not words:
            return []  # noise or a breath: Deepgram would send an empty final; nothing to store
        return [
            Hypothesis(
                words=words,
                start=round(self._utterance_start, 3),
                duration=round(max(end - self._utterance_start, words[-1].end - self._utterance_start), 3),
                is_final=True,
                speech_final=not from_finalize,
                from_finalize=from_finalize,
            )
        ]


class TranscriptMemo:
    """The last few batch transcripts of one factory, by the audio's content (thread-safe).

    Sound because decoding is deterministic: the same audio with the same options gives the same
    hypotheses, and a reused decoder hears like a fresh one. What it saves: docs/local.md.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[Hypothesis, ...]] = OrderedDict()
        self.hits = 0

    @staticmethod
    def key(mulaw: bytes) -> bytes:
        return hashlib.sha256(mulaw).digest()

    def get(self, key: bytes) -> list[Hypothesis] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return list(found)

    def put(self, key: bytes, hypotheses: list[Hypothesis]) -> None:
        with self._lock:
            self._entries[key] = tuple(hypotheses)  # Hypothesis and Word are frozen
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


# -- batch transcriptions in worker processes ---------------------------------------------------------

_worker_decoder: Any = None  # a worker process's own decoder (only ever set in a worker)


def _transcribe_in_worker(mulaw: bytes, options: SphinxOptions) -> list[Hypothesis]:
    """In a worker process: all of `mulaw` through the worker's decoder (built on its first task and
    kept for the next), the last utterance flushed; the decoder left clean."""
    global _worker_decoder
    if _worker_decoder is None:
        _worker_decoder = default_decoder_factory(options)()
    state = _Decoding(options, _worker_decoder)
    try:
        return state.feed(mulaw) + state.flush()
    finally:
        state.abandon()


class BatchProcesses:
    """Batch transcriptions outside this process: at most `workers` worker processes, started on
    first need and kept (each holds one decoder, as a pooled one would). Thread-safe."""

    def __init__(self, options: SphinxOptions, workers: int) -> None:
        self._options = options
        self._workers = workers
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def transcribe(self, mulaw: bytes) -> list[Hypothesis]:
        executor = self._pool()
        try:
            return executor.submit(_transcribe_in_worker, mulaw, self._options).result()
        except BrokenProcessPool:
            with self._lock:  # a worker died (killed, out of memory): the next request starts afresh
                if self._executor is executor:
                    self._executor = None
            raise

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: this process runs threads (servers, the event loop) a fork would copy
                self._executor = ProcessPoolExecutor(
                    max_workers=self._workers, mp_context=multiprocessing.get_context("spawn")
                )
            return self._executor


@dataclass
class SphinxRecognizer:
    """A `callscribe_local.recognizer.Recognizer` backed by pocketsphinx (one per connection), with
    its decoder leased from a `DecoderPool` and given back by `close()`."""

    executor: ThreadPoolExecutor
    lease: DecoderLease
    options: SphinxOptions = field(default_factory=SphinxOptions)
    model: str = MODEL_NAME
    memo: TranscriptMemo | None = None  # batch transcripts already made by this recognizer's factory
    batch: BatchProcesses | None = None  # where batch transcriptions run (None: in the calling thread)

    def __post_init__(self) -> None:
        self._buffer_lock = threading.Lock()  # guards _pending, _ready, _worker, _closed
        self._decode_lock = threading.Lock()  # one decode at a time for this connection
        self._pending = bytearray()
        self._ready: list[Hypothesis] = []
        self._worker: Future[None] | None = None
        self._decoding: _Decoding | None = None  # built in the worker: loading the model takes ~0.7 s
        self._failure: BaseException | None = None
        self._closed = False

    def accept(self, mulaw: bytes) -> list[Hypothesis]:
        with self._buffer_lock:
            self._raise_failure()
            self._pending += mulaw
            ready, self._ready = self._ready, []
            if self._worker is None:
                self._worker = self.executor.submit(self._drain)
        return ready

    def finalize(self) -> list[Hypothesis]:
        """Blocks until the backlog is decoded (a fraction of a second at the demo's load)."""
        with self._decode_lock:
            if self._closed:
                return []
            self._process_pending()
            flushed = self._state().flush()
        with self._buffer_lock:
            self._raise_failure()
            ready, self._ready = self._ready, []
        return ready + flushed

    def transcribe(self, mulaw: bytes) -> list[Hypothesis]:
        """Batch (the pre-recorded API): decode all of `mulaw` in a worker process (`batch`; else in
        the calling thread), not on the streaming pool, and flush the last utterance. Same
        endpointing and word timing as live. Audio the factory has transcribed before is answered
        from its memo."""
        with self._decode_lock:
            if self._closed:
                return []
            # only a recognizer that has heard nothing yet: what it says depends on the audio alone
            memo = self.memo if self._decoding is None else None
            key = TranscriptMemo.key(mulaw) if memo is not None else b""
            if memo is not None and (remembered := memo.get(key)) is not None:
                return remembered
            if self.batch is not None and self._decoding is None:
                hypotheses = self.batch.transcribe(mulaw)  # the lease stands for the worker's decoder
            else:
                state = self._state()
                hypotheses = state.feed(mulaw) + state.flush()
            if memo is not None:
                memo.put(key, hypotheses)
            return hypotheses

    def close(self) -> None:
        """The connection ended: drop queued audio and give the decoder back, clean, for reuse.

        Waits for a decode in progress (it is using the decoder); the worker then finds nothing
        left to do. Idempotent.
        """
        with self._buffer_lock:
            self._closed = True
            self._pending.clear()
        with self._decode_lock:
            if self._decoding is not None:
                self._decoding.abandon()
                self._decoding = None
            self.lease.release()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError("pocketsphinx decoding failed") from self._failure

    def _state(self) -> _Decoding:
        if self._decoding is None:
            self._decoding = _Decoding(self.options, self.lease.decoder())
        return self._decoding

    def _drain(self) -> None:
        try:
            while True:
                with self._decode_lock:
                    if not self._process_pending():
                        with self._buffer_lock:
                            if not self._pending:
                                self._worker = None
                                return
        except BaseException as exc:
            with self._buffer_lock:
                self._failure = exc
                self._worker = None
            raise

    def _process_pending(self) -> bool:
        """Decode everything queued so far; False when there was nothing. Caller holds _decode_lock."""
        with self._buffer_lock:
            chunk, self._pending = bytes(self._pending), bytearray()
            if self._closed:
                return False  # the decoder went back to the pool
        if not chunk:
            return False
        hypotheses = self._state().feed(chunk)
        if hypotheses:
            with self._buffer_lock:
                self._ready.extend(hypotheses)
        return True


def default_decoder_factory(options: SphinxOptions) -> Callable[[], Any]:
    def build() -> Any:
        from pocketsphinx import Decoder

        return Decoder(samprate=DECODER_RATE, loglevel=options.loglevel)

    return build


class SphinxRecognizerFactory:
    """`RecognizerFactory` for the stand-in: one recognizer per connection, decoding on a shared pool.

    Two workers and six decoders by default (~1.1 GB at most); a stream beyond the decoders is
    refused (429) until one closes. How those numbers were chosen: docs/local.md, "The parts".
    """

    model = MODEL_NAME
    # What a stand-in should report as Results `metadata.model_info` for connections it serves.
    model_info: ClassVar[dict[str, str]] = {
        "name": MODEL_NAME,
        "version": "pocketsphinx-5",
        "arch": "pocketsphinx",
    }

    def __init__(
        self,
        options: SphinxOptions | None = None,
        max_workers: int = 2,
        max_decoders: int = 6,
        decoder_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.options = options or SphinxOptions()
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sphinx")
        self.decoders = DecoderPool(decoder_factory or default_decoder_factory(self.options), max_decoders)
        self.transcripts = TranscriptMemo()
        # pocketsphinx's own decoders transcribe batches out of this process (a decoder a test
        # injects is its own, and cannot go there): as many at once as there are decoder slots
        self.batch = BatchProcesses(self.options, max_decoders) if decoder_factory is None else None

    def available(self) -> bool:
        return self.decoders.available()

    def __call__(self, query_params: dict[str, str]) -> SphinxRecognizer:
        # The bundled model is US English whatever `model`/`language` the client asked for; the
        # stand-in reports MODEL_NAME in its metadata so the mismatch is visible, not hidden.
        return SphinxRecognizer(
            executor=self._executor,
            lease=self.decoders.lease(),
            options=self.options,
            memo=self.transcripts,
            batch=self.batch,
        )

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self.batch is not None:
            self.batch.close()
