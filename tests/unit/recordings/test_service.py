"""`RecordingService` on in-memory ports: every path of one recording, without moto or HTTP.

tests/integration/test_recordings_handler.py runs the same service through the real handler, moto
(S3, DynamoDB, EventBridge) and local Twilio and Deepgram servers; these pin the decisions: what is
downloaded, stored, transcribed and written, in which order, and what a failure leaves. What the
outbox announces of the writes is read from the fake table's stream (`tests.support.fake_outbox`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.recordings import metric_names as names
from functions.recordings.errors import (
    DeadlineError,
    InvalidRecordingError,
    RecordingError,
    RecordingNotFoundError,
    RecordingRejectedError,
    RecordingUnavailableError,
    TranscriptionRejectedError,
)
from functions.recordings.service import RecordingService
from functions.recordings.settings import RecordingSettings
from functions.recordings.words import Word
from shared import clock
from shared.dal.records import RecordingUpdate
from shared.events import RecordingCompleted, TranscriptReconciled
from shared.status import TranscriptStatus
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import announced
from tests.support.fake_segments import FakeSegments
from tests.support.recording_fakes import FakeMedia, FakeStore, FakeTranscriber, Ops
from tests.support.recording_media import wav_bytes
from tests.support.synthetic_call import CALL_SID, SyntheticCall, synthetic_call
from tests.support.twilio_forms import rfc2822

RE = "RE" + "7" * 32
ENV = {
    "CALLS_TABLE": "calls",
    "TRANSCRIPTS_TABLE": "segments",
    "RECORDINGS_BUCKET": "recordings",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "DEEPGRAM_API_KEY": "dg-key",
}


@dataclass
class Metrics:
    added: list[tuple[str, float]] = field(default_factory=list)

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.added.append((name, value))

    def names(self) -> list[str]:
        return [name for name, _ in self.added]


@dataclass
class Rig:
    call: SyntheticCall
    calls: FakeRecordingCalls
    segments: FakeSegments
    ops: Ops
    media: FakeMedia
    store: FakeStore
    transcriber: FakeTranscriber
    metrics: Metrics
    service: RecordingService
    remaining: list[float] = field(default_factory=lambda: [600.0])

    def event(self, **overrides: Any) -> RecordingCompleted:
        values = {
            "callSid": CALL_SID,
            "recordingSid": RE,
            "channels": 2,
            "durationSeconds": 57,
            "startTime": clock.iso(self.call.recording_started_at),
            **overrides,
        }
        return RecordingCompleted.model_validate(values)

    def run(self, **overrides: Any) -> dict[str, Any]:
        return self.service.reconcile(self.event(**overrides), lambda: self.remaining[0]).as_dict()

    def reconciled(self) -> list[TranscriptReconciled]:
        """The `Transcript Reconciled` events the outbox announces for the writes so far."""
        return [e for e in announced(self.calls.table) if isinstance(e, TranscriptReconciled)]

    def snapshot(self) -> tuple[dict[str, Any], dict[Any, Any]]:
        return copy.deepcopy(self.calls.items), dict(self.segments.items)


def make_rig(
    *,
    live_status: str = TranscriptStatus.COMPLETED.value,
    route: str = "forward",
    env: dict[str, str] | None = None,
    call: SyntheticCall | None = None,
    now: Callable[[], datetime] = clock.now,
) -> Rig:
    call = call or synthetic_call(seconds=60.0, missing={"inbound": [(20.0, 32.0)]})
    calls = FakeRecordingCalls()
    calls.items[CALL_SID] = {
        "call_sid": CALL_SID,
        "route": route,
        "status": "completed",
        "started_at": "2026-11-26T09:59:58.000Z",
        "stream_started_at": clock.iso(call.stream_started_at),
        "transcript_status": live_status,
    }
    FakeWebhookCalls(calls.table).update_recording(
        RecordingUpdate(
            CALL_SID,
            RE,
            "completed",
            channels=2,
            duration_seconds=57,
            started_at=rfc2822(call.recording_started_at),
        )
    )
    segments = FakeSegments(call.live)
    ops: Ops = []
    # a WAV as long as the recording Deepgram's words come from (an answer past its end is refused)
    media = FakeMedia(ops, {RE: wav_bytes(max((w.end for w in call.words), default=0.0) + 1.0)})
    store = FakeStore(ops)
    transcriber = FakeTranscriber(ops, words=list(call.words))
    metrics = Metrics()
    service = RecordingService(
        RecordingSettings.from_env({**ENV, **(env or {})}),
        calls=calls,
        segments=segments,
        media=media,
        store=store,
        transcriber=transcriber,
        now=now,
        metric_sink=metrics,
    )
    return Rig(call, calls, segments, ops, media, store, transcriber, metrics, service)


KEY = f"recordings/2026/11/26/{CALL_SID}/{RE}.wav"


def test_a_recording_is_copied_transcribed_and_fills_what_live_missed() -> None:
    rig = make_rig()
    outcome = rig.run()

    assert outcome["result"] == "reconciled"
    assert outcome["transcriptSource"] == "live+recording"
    assert outcome["filledSeconds"] > 0
    assert rig.ops == [("download", RE), ("put", KEY), ("transcribe", "nova-3")]
    assert rig.store.objects[KEY] == rig.media.recordings[RE]
    assert rig.store.metadata[KEY] == {"call-sid": CALL_SID, "recording-sid": RE}

    item = rig.calls.items[CALL_SID]
    assert item["recording_s3_key"] == KEY
    assert item["transcript_source"] == "live+recording"
    assert item["reconciled_transcript_status"] == "completed"
    assert item["alignment"]["method"] == "words"
    assert abs(item["alignment"]["offset_seconds"] - rig.call.offset) < 0.05
    assert [gap["track"] for gap in item["gaps"]] == ["inbound"]

    added = [s for s in rig.segments.list_segments(CALL_SID) if s.from_recording]
    assert added
    assert all(s.segment_key.endswith("#inbound#r") and s.speaker == "caller" for s in added)
    assert {(s.source, s.language, s.origin) for s in added} == {("deepgram:nova-3", "en", "recording")}
    lost = [(d.start - 0.5, d.end + 0.5) for d in rig.call.dropped]
    assert all(any(a <= s.start and s.end <= b for a, b in lost) for s in added)  # only what live lost

    [event] = rig.reconciled()
    assert event.segment_count == len(rig.call.live) + len(added)
    assert event.filled_seconds == item["filled_seconds"]
    assert event.transcript_version == item["transcript_version"]
    assert {names.RECONCILED, names.RECORDING_BYTES, names.FILLED_SECONDS} <= set(rig.metrics.names())
    # Deepgram was asked with the Lambda's time left minus what the writes need, at most the setting
    assert rig.transcriber.asked[0][2] == pytest.approx(570.0)


def test_the_calls_route_language_and_model_are_what_deepgram_hears_with() -> None:
    rig = make_rig()
    rig.calls.items[CALL_SID].update(language="es", stt_model="nova-2-phonecall")
    rig.run()
    options = rig.transcriber.asked[0][1]
    assert (options.language, options.model) == ("es", "nova-2-phonecall")
    added = [s for s in rig.segments.list_segments(CALL_SID) if s.from_recording]
    assert {(s.language, s.source) for s in added} == {("es", "deepgram:nova-2-phonecall")}


def test_an_agent_calls_outbound_track_is_the_agent() -> None:
    call = synthetic_call(seconds=40.0, missing={"outbound": [(10.0, 20.0)]})
    rig = make_rig(route="agent", call=call)
    rig.run()
    added = [s for s in rig.segments.list_segments(CALL_SID) if s.from_recording]
    assert added
    assert {(s.track, s.speaker) for s in added} == {("outbound", "agent")}


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ("missing", RecordingNotFoundError),
        ("corrupt", InvalidRecordingError),
        ("empty", InvalidRecordingError),
        ("s3", RecordingUnavailableError),
        ("deepgram-400", TranscriptionRejectedError),
        ("deepgram-500", RecordingUnavailableError),
    ],
)
def test_a_recording_that_cannot_be_used_raises_and_changes_nothing_on_the_call(
    failure: str, expected: type[RecordingError]
) -> None:
    rig = make_rig(env={"DELETE_TWILIO_RECORDINGS": "true"})
    if failure == "missing":
        rig.media.recordings.clear()
    elif failure == "corrupt":
        rig.media.recordings[RE] = b"<html>Twilio is having a moment</html>"
    elif failure == "empty":
        rig.media.recordings[RE] = wav_bytes(0.0)
    elif failure == "s3":
        rig.store.fail_put = RecordingUnavailableError("S3 is down", reason="store-unavailable")
    elif failure == "deepgram-400":
        rig.transcriber.fail = TranscriptionRejectedError("HTTP 400 Bad Request")
    else:
        rig.transcriber.fail = RecordingUnavailableError("HTTP 500 x3", reason="deepgram-unavailable")
    before = rig.snapshot()

    with pytest.raises(expected):
        rig.run()

    assert rig.snapshot() == before  # not a field of the call, not a segment
    assert rig.reconciled() == []
    assert ("delete", RE) not in rig.ops  # Twilio's copy stays while ours is not confirmed and named
    if failure in ("corrupt", "empty", "missing"):
        assert rig.store.objects == {}  # nothing that is not a WAV is stored
    if failure == "s3":
        assert ("transcribe", "nova-3") not in rig.ops  # no Deepgram minute is spent on an unsaved file


@pytest.mark.parametrize(
    "shift",
    [
        pytest.param(lambda w: replace(w, start=w.start - 20.0, end=w.end - 20.0), id="words before 0 s"),
        pytest.param(lambda w: replace(w, start=w.start + 1e7, end=w.end + 1e7), id="words at 1e7 s"),
    ],
)
def test_an_answer_that_cannot_be_true_of_the_recording_is_a_bad_response(shift: Any) -> None:
    rig = make_rig()
    rig.transcriber.words = [shift(w) if w.track == "inbound" else w for w in rig.transcriber.words]
    before = rig.snapshot()

    with pytest.raises(RecordingUnavailableError) as raised:
        rig.run()

    assert (raised.value.reason, raised.value.retryable) == ("deepgram-bad-response", True)
    assert rig.snapshot() == before
    assert rig.reconciled() == []


def test_words_deepgram_repeats_are_stored_once() -> None:
    once, twice = make_rig(), make_rig()
    twice.transcriber.words = [w for word in twice.transcriber.words for w in (word, word)]
    assert once.run() == twice.run()
    assert once.segments.items == twice.segments.items


def test_non_retryable_failures_say_so() -> None:
    assert not RecordingNotFoundError("x").retryable
    assert not InvalidRecordingError("x").retryable
    assert not TranscriptionRejectedError("x").retryable
    assert RecordingUnavailableError("x", reason="deepgram-unavailable").retryable
    assert RecordingUnavailableError("x", reason="deepgram-unavailable").reason == "deepgram-unavailable"


def test_twilios_copy_is_deleted_only_after_ours_is_stored_and_named_on_the_call() -> None:
    rig = make_rig(env={"DELETE_TWILIO_RECORDINGS": "true"})
    key_when_deleted: list[object] = []
    original = rig.media.delete

    def delete(recording_sid: str) -> bool:
        key_when_deleted.append(rig.calls.items[CALL_SID].get("recording_s3_key"))
        return original(recording_sid)

    rig.media.delete = delete  # type: ignore[method-assign]
    rig.run()
    assert rig.ops == [("download", RE), ("put", KEY), ("transcribe", "nova-3"), ("delete", RE)]
    assert key_when_deleted == [KEY]
    assert RE not in rig.media.recordings


def test_twilios_copy_is_kept_by_default() -> None:
    rig = make_rig()
    rig.run()
    assert ("delete", RE) not in rig.ops
    assert RE in rig.media.recordings


def test_a_failed_delete_is_reported_not_raised() -> None:
    rig = make_rig(env={"DELETE_TWILIO_RECORDINGS": "true"})
    rig.media.fail_delete = RecordingUnavailableError("Twilio 503", reason="twilio-unavailable")
    assert rig.run()["result"] == "reconciled"
    assert names.TWILIO_DELETE_FAILURES in rig.metrics.names()


def test_a_rerun_reads_our_copy_and_changes_nothing() -> None:
    rig = make_rig(env={"DELETE_TWILIO_RECORDINGS": "true"})
    first = rig.run()
    after_first = rig.snapshot()
    rig.ops.clear()

    second = rig.run()  # an EventBridge retry, a duplicate delivery, the sweeper's re-drive

    assert rig.ops == [("get", KEY), ("transcribe", "nova-3"), ("delete", RE)]  # Twilio's copy is gone
    assert second["result"] == "unchanged"
    assert {k: v for k, v in second.items() if k != "result"} == {
        k: v for k, v in first.items() if k != "result"
    }
    assert rig.snapshot() == after_first
    # announced once: the re-run's write was refused (the first one's announcement is the outbox's)
    assert [e.transcript_version for e in rig.reconciled()] == [first["transcriptVersion"]]


def test_a_stored_reconciliation_reports_what_it_filled_its_coverage_and_its_lag_once() -> None:
    now = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    rig = make_rig(now=lambda: now)
    rig.calls.items[CALL_SID]["ended_at"] = clock.iso(now - timedelta(seconds=95))
    rig.run()

    item, reported = rig.calls.items[CALL_SID], dict(rig.metrics.added)
    assert reported[names.FILLED_SECONDS] == item["filled_seconds"] > 0
    assert reported[names.LIVE_COVERAGE] == item["live_coverage"] < 1
    assert reported[names.RECONCILE_LAG_SECONDS] == 95.0

    rig.metrics.added.clear()
    assert rig.run()["result"] == "unchanged"  # a re-run stores nothing, so reports none of them
    assert not {names.FILLED_SECONDS, names.LIVE_COVERAGE, names.RECONCILE_LAG_SECONDS} & set(
        rig.metrics.names()
    )


def test_no_lag_is_reported_before_the_call_is_known_to_have_ended() -> None:
    rig = make_rig()
    assert "ended_at" not in rig.calls.items[CALL_SID]
    rig.run()
    assert names.RECONCILE_LAG_SECONDS not in rig.metrics.names()
    assert names.FILLED_SECONDS in rig.metrics.names()


def test_a_recording_while_live_is_in_progress_is_reconciled_against_what_is_stored() -> None:
    rig = make_rig(live_status=TranscriptStatus.IN_PROGRESS.value)
    first = rig.run()
    assert first["result"] == "reconciled"
    item = rig.calls.items[CALL_SID]
    assert item["reconciled_transcript_status"] == "in-progress"  # the sweeper's cue to redo it
    assert names.RECONCILED_EARLY in rig.metrics.names()

    # the streamer then stores the segments it was still writing, and finishes the transcript
    rig.segments.write_segments(rig.call.dropped)
    rig.calls.items[CALL_SID]["stream_owner"] = "the-stream"  # as its claim left it
    FakeStreamCalls(rig.calls.table).transcript_finished(
        CALL_SID, "the-stream", TranscriptStatus.COMPLETED, None, None
    )
    redo = rig.run()
    assert redo["result"] == "reconciled"
    assert redo["transcriptVersion"] != first["transcriptVersion"]
    item = rig.calls.items[CALL_SID]
    assert item["reconciled_transcript_status"] == "completed"
    # what live stored late is no longer filled from the recording: those segments were removed
    assert [s for s in rig.segments.list_segments(CALL_SID) if s.from_recording] == []
    assert item["transcript_source"] == "live"
    # each stored reconciliation is announced: the summaries rewrite from the final one
    assert [e.transcript_version for e in rig.reconciled()] == [
        first["transcriptVersion"],
        redo["transcriptVersion"],
    ]


def test_a_recording_the_call_no_longer_names_is_skipped() -> None:
    rig = make_rig()
    other = "RE" + "8" * 32
    FakeWebhookCalls(rig.calls.table).update_recording(
        RecordingUpdate(CALL_SID, other, "completed", channels=1)
    )
    before = rig.snapshot()
    assert rig.run()["result"] == "superseded"
    assert rig.ops == []
    assert rig.snapshot() == before
    assert names.SKIPPED in rig.metrics.names()


def test_an_unknown_call_is_refused_for_good() -> None:
    rig = make_rig()
    del rig.calls.items[CALL_SID]
    with pytest.raises(RecordingRejectedError) as raised:
        rig.run()
    assert raised.value.reason == "call-not-found"
    assert rig.ops == []


def test_too_little_time_left_for_deepgram_is_a_retryable_deadline() -> None:
    rig = make_rig()
    rig.remaining[0] = 35.0
    with pytest.raises(DeadlineError) as raised:
        rig.run()
    assert raised.value.retryable
    assert "transcript_version" not in rig.calls.items[CALL_SID]


def test_without_a_start_time_the_stored_one_and_then_the_words_align() -> None:
    rig = make_rig()
    rig.run(startTime=None)
    item = rig.calls.items[CALL_SID]
    assert item["recording_s3_key"] == KEY  # the day still comes from the stored recording time
    assert abs(item["alignment"]["offset_seconds"] - rig.call.offset) < 0.05


def test_a_call_nobody_spoke_in_is_live_with_nothing_added() -> None:
    rig = make_rig(call=replace(synthetic_call(seconds=30.0), words=[], live=[]))
    outcome = rig.run()
    assert (outcome["transcriptSource"], outcome["filledSeconds"], outcome["segmentCount"]) == (
        "live",
        0.0,
        0,
    )
    assert rig.calls.items[CALL_SID]["live_coverage"] == 1.0


def test_what_the_recording_adds_is_redacted_before_it_is_written_and_counted_on_the_call() -> None:
    call = synthetic_call(seconds=60.0, missing={"inbound": [(20.0, 32.0)]})
    rig = make_rig(call=call)
    # the caller read a card number out where live heard nothing (recording time)
    at = 26.0 - call.offset
    rig.transcriber.words.append(Word("inbound", at, at + 0.4, "4111111111111111", 0.9))
    rig.run()

    added = [s for s in rig.segments.list_segments(CALL_SID) if s.from_recording]
    assert not any("4111" in s.text for s in added)
    assert any("[REDACTED CARD]" in s.text for s in added)
    assert rig.calls.items[CALL_SID]["recording_redaction_counts"] == {"CARD": 1}


def test_with_redaction_off_the_recording_fills_as_heard_and_counts_nothing() -> None:
    call = synthetic_call(seconds=60.0, missing={"inbound": [(20.0, 32.0)]})
    rig = make_rig(call=call, env={"TRANSCRIPT_REDACTION": "false"})
    at = 26.0 - call.offset
    rig.transcriber.words.append(Word("inbound", at, at + 0.4, "4111111111111111", 0.9))
    rig.run()

    added = [s for s in rig.segments.list_segments(CALL_SID) if s.from_recording]
    assert any("4111111111111111" in s.text for s in added)
    assert "recording_redaction_counts" not in rig.calls.items[CALL_SID]


def test_a_recording_that_adds_nothing_private_counts_nothing() -> None:
    rig = make_rig()
    rig.run()
    assert rig.calls.items[CALL_SID]["recording_redaction_counts"] == {}
