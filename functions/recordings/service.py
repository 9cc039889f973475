"""One recording, reconciled: copy it, transcribe it, add what live missed, store the result.

`RecordingService.reconcile` runs on ports handed in (tables through `shared/dal`, Twilio's media,
the bucket, Deepgram, the clock, the metrics sink). What a change must keep, in this order: nothing
on the call changes until the WAV is stored and transcribed; the object key depends only on the call
and the recording; recording segments are written, obsolete ones deleted, and the call record last,
so a crash midway leaves the call unreconciled and a retry redoes it with the same keys; the cost is
recomputed after. The steps and why: docs/recordings.md, "The recordings Lambda".
Long (~370 lines): the steps and their metrics are one sequence; the pure parts live elsewhere.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, BinaryIO, Literal, Protocol, cast

from aws_lambda_powertools.metrics import MetricUnit

from functions.recordings import metric_names as names
from functions.recordings.alignment import estimate_offset
from functions.recordings.deepgram_batch import BatchResponseError, BatchTranscript
from functions.recordings.errors import (
    DeadlineError,
    RecordingError,
    RecordingRejectedError,
    RecordingUnavailableError,
)
from functions.recordings.ports import BatchTranscriber, RecordingMedia, RecordingStore
from functions.recordings.reconcile import Reconciliation, reconcile, speaker_roles
from functions.recordings.settings import RecordingSettings
from functions.recordings.wav import WavInfo, inspect_wav
from shared import clock
from shared.costs import record_cost
from shared.dal.ports import RecordingCalls, RecordingSegments
from shared.dal.records import Call, Segment
from shared.deepgram import DeepgramOptions
from shared.events import RecordingCompleted
from shared.observability import logger, metrics
from shared.status import TranscriptStatus

SAFETY_SECONDS = 30.0  # kept for reading and writing the tables after Deepgram answers
MIN_REQUEST_SECONDS = 10.0  # less than this left: not worth asking Deepgram, a fresh invocation retries
FINAL_LIVE = frozenset({TranscriptStatus.COMPLETED, TranscriptStatus.INCOMPLETE, TranscriptStatus.FAILED})
KEY_PREFIX = "recordings"

Result = Literal["reconciled", "unchanged", "superseded"]


class MetricSink(Protocol):
    """What the service records metrics with (Powertools' `Metrics` in the Lambda, a list in tests)."""

    def add_metric(self, *, name: str, unit: MetricUnit, value: float) -> None: ...


@dataclass(frozen=True)
class RecordingOutcome:
    call_sid: str
    recording_sid: str
    result: Result
    transcript_source: str | None = None
    filled_seconds: float | None = None
    segment_count: int | None = None
    transcript_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "callSid": self.call_sid,
            "recordingSid": self.recording_sid,
            "result": self.result,
            "transcriptSource": self.transcript_source,
            "filledSeconds": self.filled_seconds,
            "segmentCount": self.segment_count,
            "transcriptVersion": self.transcript_version,
        }


def object_key(call_sid: str, recording_sid: str, day: datetime) -> str:
    """`recordings/{yyyy}/{mm}/{dd}/{callSid}/{recordingSid}.wav`: by day for lifecycle rules and
    browsing, then by call; derived only from the event, so every retry writes the same object."""
    return f"{KEY_PREFIX}/{day:%Y/%m/%d}/{call_sid}/{recording_sid}.wav"


def spooled_buffer(memory_bytes: int) -> Callable[[], BinaryIO]:
    """Audio buffers held in memory up to `memory_bytes`, then in a temporary file (Lambda's /tmp)."""

    def make() -> BinaryIO:
        return cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=memory_bytes))

    return make


class RecordingService:
    def __init__(
        self,
        settings: RecordingSettings,
        *,
        calls: RecordingCalls,
        segments: RecordingSegments,
        media: RecordingMedia,
        store: RecordingStore,
        transcriber: BatchTranscriber,
        buffer: Callable[[], BinaryIO] | None = None,
        now: Callable[[], datetime] = clock.now,
        metric_sink: MetricSink = metrics,
    ) -> None:
        self._settings = settings
        self._calls = calls
        self._segments = segments
        self._media = media
        self._store = store
        self._transcriber = transcriber
        self._buffer = buffer or spooled_buffer(settings.recording_memory_bytes)
        self._now = now
        self._metrics = metric_sink

    def reconcile(
        self, event: RecordingCompleted, remaining_seconds: Callable[[], float]
    ) -> RecordingOutcome:
        call_sid, recording_sid = event.call_sid, event.recording_sid
        call = self._calls.get(call_sid)
        if call is None:
            raise RecordingRejectedError(f"no call record for {call_sid}", reason="call-not-found")
        if call.recording is None or call.recording.sid != recording_sid:
            return self._superseded(event, call)
        key = self._key(event, call)
        options = self._settings.deepgram.for_call(language=call.language, model=call.stt_model)
        with self._buffer() as audio:
            size, wav = self._audio(event, call, key, audio)
            transcript = self._transcribe(audio, size, wav, options, remaining_seconds)
        self._count(names.RECORDING_BYTES, size, MetricUnit.Bytes)
        if call.recording_s3_key != key and not self._calls.set_recording_s3_key(
            call_sid, recording_sid, key
        ):
            return self._superseded(event, call)  # a later recording replaced this one meanwhile
        if self._settings.delete_twilio_recordings:
            self._delete_twilio_copy(recording_sid)

        # read again: live may have finished while Deepgram worked (status first, then the segments)
        call = self._calls.get(call_sid) or call
        live_status = call.transcript_status or TranscriptStatus.PENDING.value
        stored = self._segments.list_segments(call_sid)
        result = self._reconcile(event, call, stored, transcript, options)
        segments = _changed(
            stored, [replace(segment, language=options.language) for segment in result.segments]
        )
        if segments:
            self._segments.write_recording_segments(segments)
        if result.obsolete_keys:
            self._segments.delete_recording_segments(call_sid, result.obsolete_keys)
        saved = self._calls.save_reconciliation(result.update(live_status))
        self._report(event, call, wav, result, live_status, saved)
        self._update_cost(call_sid)
        return RecordingOutcome(
            call_sid,
            recording_sid,
            "reconciled" if saved else "unchanged",
            result.transcript_source,
            result.filled_seconds,
            result.segment_count,
            result.transcript_version,
        )

    # ---- the steps ------------------------------------------------------------------------------

    def _key(self, event: RecordingCompleted, call: Call) -> str:
        """The object's key: the one stored for this recording, else derived from its start day."""
        stored = call.recording_s3_key
        if stored and stored.endswith(f"/{event.call_sid}/{event.recording_sid}.wav"):
            return stored
        started = _recording_started_at(event, call)
        if started is None and call.started_at:
            started = clock.parse_iso(call.started_at)
        return object_key(event.call_sid, event.recording_sid, started or self._now())

    def _audio(self, event: RecordingCompleted, call: Call, key: str, audio: BinaryIO) -> tuple[int, WavInfo]:
        """The WAV in `audio`: our stored copy on a re-run, else Twilio's, checked and stored."""
        limit = self._settings.recording_max_bytes
        if call.recording_s3_key == key:
            size = self._store.get(key, audio, limit)
            if size is not None:
                logger.info("recording read from our copy", extra={"s3_key": key, "bytes": size})
                return size, inspect_wav(audio, size)
            logger.warning("our copy of the recording is gone; downloading again", extra={"s3_key": key})
        size = self._media.download(event.recording_sid, audio, limit)
        wav = inspect_wav(audio, size)
        if wav.channels != event.channels:
            logger.warning(
                "the WAV's channels differ from the callback's",
                extra={"wav_channels": wav.channels, "event_channels": event.channels},
            )
        metadata = {"call-sid": event.call_sid, "recording-sid": event.recording_sid}
        self._store.put(key, audio, size, metadata)
        logger.info(
            "recording copied",
            extra={"s3_key": key, "bytes": size, "seconds": round(wav.duration_seconds, 1)},
        )
        return size, wav

    def _transcribe(
        self,
        audio: BinaryIO,
        size: int,
        wav: WavInfo,
        options: DeepgramOptions,
        remaining_seconds: Callable[[], float],
    ) -> BatchTranscript:
        """Deepgram's words for the WAV; an answer that cannot be true of it is a bad response."""
        longest = self._settings.deepgram.batch_timeout_seconds

        def timeout() -> float:
            left = remaining_seconds() - SAFETY_SECONDS
            if left < MIN_REQUEST_SECONDS:
                raise DeadlineError(f"{remaining_seconds():.0f} s left, too little to wait for Deepgram")
            return min(longest, left)

        try:
            transcript = self._transcriber.transcribe(audio, size, options, timeout)
            transcript.check_within(wav.duration_seconds)
        except BatchResponseError as exc:  # Deepgram answered 200 with something we cannot use
            raise RecordingUnavailableError(str(exc), reason="deepgram-bad-response") from exc
        if transcript.duplicates:
            logger.warning("deepgram repeated words; copies dropped", extra={"words": transcript.duplicates})
        return transcript

    def _delete_twilio_copy(self, recording_sid: str) -> None:
        """Our copy is stored and named on the call: Twilio's may go. A failure is reported, not
        raised: the transcript is not held back for it, and the next run (sweeper, retry) tries again."""
        try:
            deleted = self._media.delete(recording_sid)
        except RecordingError as exc:
            logger.error("Twilio's copy of the recording could not be deleted", extra={"error": str(exc)})
            self._count(names.TWILIO_DELETE_FAILURES)
            return
        logger.info("Twilio's copy of the recording deleted", extra={"deleted": deleted})

    def _reconcile(
        self,
        event: RecordingCompleted,
        call: Call,
        stored: Sequence[Segment],
        transcript: BatchTranscript,
        options: DeepgramOptions,
    ) -> Reconciliation:
        words = transcript.all_words()
        stream_started_at = clock.parse_iso(call.stream_started_at) if call.stream_started_at else None
        alignment = estimate_offset(
            words,
            stored,
            recording_started_at=_recording_started_at(event, call),
            stream_started_at=stream_started_at,
        )
        return reconcile(
            event.call_sid,
            stored,
            words,
            alignment,
            speaker_roles(call.route),
            f"deepgram:{options.model}",
            redactor=self._settings.redaction.redactor(),  # what is added is redacted before it is written
        )

    def _update_cost(self, call_sid: str) -> None:
        """Recompute the call's cost now the recording is transcribed (its pre-recorded minutes):
        shared.costs never raises; a failure is logged and counted, and a later writer recomputes."""

        def failed(message: str) -> None:
            logger.warning(message)
            self._count(names.COST_WRITE_FAILURES)

        record_cost(self._calls, call_sid, self._settings.costs.call_prices, on_error=failed)

    # ---- reporting ------------------------------------------------------------------------------

    def _superseded(self, event: RecordingCompleted, call: Call) -> RecordingOutcome:
        current = call.recording.sid if call.recording is not None else None
        logger.warning(
            "not the call's recording (a later one replaced it): nothing to do",
            extra={"recording_sid": event.recording_sid, "call_recording_sid": current},
        )
        self._count(names.SKIPPED)
        return RecordingOutcome(event.call_sid, event.recording_sid, "superseded")

    def _report(
        self,
        event: RecordingCompleted,
        call: Call,
        wav: WavInfo,
        result: Reconciliation,
        live_status: str,
        saved: bool,
    ) -> None:
        early = live_status not in FINAL_LIVE
        if early:
            # per contract: reconciled against what is stored; the sweeper redoes it once live is
            # final (it sees reconciled_transcript_status still in progress)
            self._count(names.RECONCILED_EARLY)
        self._count(names.RECONCILED)
        if saved:
            self._report_stored(call, result)
        logger.info(
            "recording reconciled",
            extra={
                "recording_sid": event.recording_sid,
                "stored": saved,
                "live_status": live_status,
                "early": early,
                "recording_seconds": round(wav.duration_seconds, 1),
                "transcript_source": result.transcript_source,
                "live_coverage": round(result.live_coverage, 4),
                "filled_seconds": result.filled_seconds,
                "added_segments": len(result.segments),
                "obsolete_segments": len(result.obsolete_keys),
                "redactions": result.redaction_counts,  # counts only: logs carry no transcript text
                "alignment": {
                    "offset": round(result.alignment.offset, 3),
                    "method": result.alignment.method,
                    "matches": result.alignment.matches,
                },
                "route": call.route,
            },
        )

    def _report_stored(self, call: Call, result: Reconciliation) -> None:
        """The dashboard's recordings row, once per stored reconciliation (a re-run that changed
        nothing adds no second value): how much was filled, how much live had heard, how late."""
        self._count(names.FILLED_SECONDS, result.filled_seconds, MetricUnit.Seconds)
        self._count(names.LIVE_COVERAGE, result.live_coverage, MetricUnit.NoUnit)
        if call.ended_at:  # unknown until the call's terminal status callback arrives
            lag = (self._now() - clock.parse_iso(call.ended_at)).total_seconds()
            self._count(names.RECONCILE_LAG_SECONDS, max(0.0, lag), MetricUnit.Seconds)

    def _count(self, name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
        self._metrics.add_metric(name=name, unit=unit, value=value)


def _changed(stored: Sequence[Segment], added: Sequence[Segment]) -> list[Segment]:
    """The recording segments not already stored as they are (a re-run rewrites nothing, so even
    `created_at` keeps its first value)."""
    earlier = {
        segment.segment_key: replace(segment, created_at=None) for segment in stored if segment.from_recording
    }
    return [
        segment for segment in added if earlier.get(segment.segment_key) != replace(segment, created_at=None)
    ]


def _recording_started_at(event: RecordingCompleted, call: Call) -> datetime | None:
    """When the recording began: the event's ISO time, else the RFC 2822 time the callback stored."""
    if event.start_time:
        return clock.parse_iso(event.start_time)
    if call.recording is not None and call.recording.started_at:
        return clock.parse_rfc2822(call.recording.started_at)
    return None
