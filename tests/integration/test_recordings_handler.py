"""The recordings Lambda end to end: a signed recording callback into the webhooks handler publishes
`Recording Completed` on the bus (moto); that real-shaped EventBridge event goes into the recordings
`handler`, which downloads the WAV from a local Twilio server (basic auth), stores it in S3 (moto),
has a local Deepgram server transcribe it (`POST /v1/listen`, `Token` auth) and reconciles it with
the live segments in DynamoDB (moto); `Transcript Reconciled` is read back from the bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from pydantic import ValidationError

from callscribe_local.aws_local import BusTap, LocalAws
from functions.recordings import app
from functions.recordings.errors import (
    RecordingNotFoundError,
    RecordingUnavailableError,
    TranscriptionRejectedError,
)
from shared import aws, clock
from shared.bootstrap import BootstrapSettings, bootstrap
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.records import CallParties, CallUpsert
from shared.dal.segments import DynamoSegments
from shared.status import TranscriptStatus
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.apigw_events import json_event, twilio_event
from tests.support.recording_media import prerecorded_response, wav_bytes
from tests.support.recording_servers import DeepgramPrerecorded, TwilioRecordings
from tests.support.synthetic_call import SyntheticCall, synthetic_call
from tests.support.twilio_forms import recording_params, rfc2822
from tests.support.webhooks_env import Webhooks
from tests.support.webhooks_env import webhooks_fixture as webhooks_fixture  # the `webhooks` fixture
from tests.unit.summaries.builders import FakeLambdaContext

pytestmark = pytest.mark.integration

BUCKET = "test-recordings"
DEEPGRAM_KEY = "dg-prerecorded-key"


@dataclass
class Stack:
    local: LocalAws
    webhooks: Webhooks
    twilio: TwilioRecordings
    deepgram: DeepgramPrerecorded
    bus: BusTap
    words: dict[str, Any]

    def seed(
        self, call_sid: str, call: SyntheticCall, recording_sid: str, *, live_status: str = "completed"
    ) -> None:
        """What the webhooks and the streamer stored before the recording was ready."""
        table = self.local.names.calls_table
        webhooks, stream = DynamoWebhookCalls(table), DynamoStreamCalls(table)
        webhooks.upsert_call(
            CallUpsert(
                call_sid, CallParties(direction="inbound"), clock.iso(call.stream_started_at), route="forward"
            )
        )
        stream.stream_started(call_sid, clock.iso(call.stream_started_at))
        DynamoSegments(self.local.names.transcripts_table).write_segments(
            [replace(s, call_sid=call_sid) for s in call.live]
        )
        stream.transcript_finished(call_sid, TranscriptStatus(live_status), len(call.live), None)
        self.twilio.recordings[recording_sid] = wav_bytes(2.0)
        self.words[call_sid] = prerecorded_response(call.words, duration=60.0)

    def recording_completed(self, call_sid: str, recording_sid: str, call: SyntheticCall) -> dict[str, Any]:
        """The recording callback through the webhooks, then its event as the recordings rule delivers it."""
        params = {
            **recording_params(call_sid, "completed", recording_sid=recording_sid),
            "RecordingStartTime": rfc2822(call.recording_started_at),
        }
        assert self.webhooks.invoke(twilio_event("/twilio/recording", params))["statusCode"] == 204
        [event] = [
            e
            for e in self.bus.events_for(call_sid, wait_seconds=5)
            if e["detail-type"] == "Recording Completed"
        ]
        return event

    def reconciled_events(self, call_sid: str) -> list[dict[str, Any]]:
        return [
            e["detail"]
            for e in self.bus.events_for(call_sid, wait_seconds=2)
            if e["detail-type"] == "Transcript Reconciled"
        ]


@pytest.fixture
def stack(
    local_stack: LocalAws, webhooks: Webhooks, bus_tap: BusTap, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    words: dict[str, Any] = {}

    def answer(body: bytes, params: list[tuple[str, str]]) -> dict[str, Any]:
        # the server cannot hear silence: it answers with the words of the call whose WAV this is
        [call_sid] = [sid for sid in words if sid in current]
        return dict(words[call_sid])

    current: list[str] = []
    with (
        TwilioRecordings(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as twilio,
        DeepgramPrerecorded(DEEPGRAM_KEY, answer) as deepgram,
    ):
        monkeypatch.setenv("RECORDINGS_BUCKET", BUCKET)
        monkeypatch.setenv("TWILIO_API_BASE_URL", twilio.base_url)
        monkeypatch.setenv("DEEPGRAM_URL", deepgram.url)
        monkeypatch.setenv("DEEPGRAM_API_KEY", DEEPGRAM_KEY)
        monkeypatch.setenv("RECORDING_RETRY_BACKOFF_SECONDS", "0")
        bootstrap(BootstrapSettings.from_env())
        app.reset()
        result = Stack(local_stack, webhooks, twilio, deepgram, bus_tap, words)
        result.current = current  # type: ignore[attr-defined]
        yield result
        app.reset()


def invoke(stack: Stack, event: dict[str, Any], call_sid: str) -> dict[str, Any]:
    stack.current[:] = [call_sid]  # type: ignore[attr-defined]
    return app.handler(event, FakeLambdaContext(function_name="callscribe-recordings", remaining_ms=600_000))


def a_call(call_sid: str) -> SyntheticCall:
    call = synthetic_call(seconds=30.0, missing={"inbound": [(12.0, 18.0)]}, seed=7)
    return replace(call, live=[replace(s, call_sid=call_sid) for s in call.live])


def recording_sid_for(call_sid: str) -> str:
    return "RE" + call_sid[2:]


def test_a_completed_recording_is_copied_transcribed_and_reconciled(stack: Stack, call_sid: str) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    assert event["detail"] == {
        "callSid": call_sid,
        "recordingSid": recording_sid,
        "channels": 2,
        "durationSeconds": 37,
        "startTime": clock.iso(call.recording_started_at),
    }

    outcome = invoke(stack, event, call_sid)

    assert outcome["result"] == "reconciled"
    assert outcome["transcriptSource"] == "live+recording"
    # the WAV came from Twilio with basic auth, and went to Deepgram whole, with the live options
    [download] = [s for s in stack.twilio.seen if s.method == "GET"]
    assert download.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/{recording_sid}.wav"
    [listen] = stack.deepgram.seen
    assert listen.headers["Authorization"] == f"Token {DEEPGRAM_KEY}"
    assert listen.body_bytes == len(stack.twilio.recordings[recording_sid])
    assert ("multichannel", "true") in listen.query
    assert ("model", "nova-3") in listen.query
    assert ("smart_format", "true") in listen.query

    record = DynamoCallReader(stack.local.names.calls_table).get(call_sid)
    assert record is not None
    day = call.recording_started_at.strftime("%Y/%m/%d")
    key = f"recordings/{day}/{call_sid}/{recording_sid}.wav"
    assert record.recording_s3_key == key
    head = aws.s3().head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "audio/wav"
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"] == {"call-sid": call_sid, "recording-sid": recording_sid}
    assert record.transcript_source == "live+recording"
    assert record.reconciled_transcript_status == "completed"
    assert record.alignment is not None
    assert record.alignment["method"] == "words"

    stored = DynamoSegments(stack.local.names.transcripts_table).list_segments(call_sid)
    added = [s for s in stored if s.from_recording]
    assert added
    assert all(s.segment_key.endswith("#inbound#r") for s in added)
    assert len(stored) == len(call.live) + len(added)

    # GET /calls/{callSid} reports it (the webhooks Lambda, the contract's shape)
    view = json.loads(stack.webhooks.invoke(json_event("GET", f"/calls/{call_sid}"))["body"])
    assert (view["transcriptSource"], view["liveCoverage"]) == ("live+recording", record.live_coverage)
    assert view["gaps"] == [{"track": g.track, "start": g.start, "end": g.end} for g in record.gaps or ()]
    assert {line["source"] for line in view["transcript"]} == {"live", "recording"}
    assert len([line for line in view["transcript"] if line["source"] == "recording"]) == len(added)

    [reconciled] = stack.reconciled_events(call_sid)
    assert reconciled == {
        "callSid": call_sid,
        "segmentCount": len(stored),
        "filledSeconds": record.filled_seconds,
        "transcriptVersion": record.transcript_version,
        "transcriptSource": "live+recording",
    }


def test_a_rerun_is_idempotent_and_reads_our_copy_after_twilios_is_deleted(
    stack: Stack, call_sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELETE_TWILIO_RECORDINGS", "true")
    app.reset()
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)

    first = invoke(stack, event, call_sid)
    assert recording_sid not in stack.twilio.recordings  # deleted once ours was stored and named
    methods = [s.method for s in stack.twilio.seen]
    assert methods == ["GET", "DELETE"]
    segments_after_first = DynamoSegments(stack.local.names.transcripts_table).list_segments(call_sid)

    second = invoke(stack, event, call_sid)  # EventBridge's retry, or the sweeper's re-drive

    assert second["result"] == "unchanged"
    assert second["transcriptVersion"] == first["transcriptVersion"]
    assert [s.method for s in stack.twilio.seen] == ["GET", "DELETE", "DELETE"]  # no second download
    assert DynamoSegments(stack.local.names.transcripts_table).list_segments(call_sid) == segments_after_first


def test_a_deepgram_400_is_not_retried_and_is_reported_as_such(
    stack: Stack, call_sid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    stack.deepgram.fail_next(400)
    before = DynamoCallReader(stack.local.names.calls_table).get(call_sid)

    with pytest.raises(TranscriptionRejectedError):
        invoke(stack, event, call_sid)

    assert len(stack.deepgram.seen) == 1
    after = DynamoCallReader(stack.local.names.calls_table).get(call_sid)
    assert after == before  # not a field of the call changed
    assert stack.reconciled_events(call_sid) == []
    failures = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"RecordingFailures"' in line
    ]
    # counted once in total (the dashboard's) and once by reason
    assert sorted((f.get("reason") or "", f["RecordingFailures"]) for f in failures) == [
        ("", [1.0]),
        ("deepgram-rejected", [1.0]),
    ]


def test_a_deepgram_500_is_retried_then_raised(stack: Stack, call_sid: str) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    stack.deepgram.fail_next(500, 502, 503)

    with pytest.raises(RecordingUnavailableError) as raised:
        invoke(stack, event, call_sid)

    assert raised.value.reason == "deepgram-unavailable"
    assert [s.status for s in stack.deepgram.seen] == [500, 502, 503]
    record = DynamoCallReader(stack.local.names.calls_table).get(call_sid)
    assert record is not None
    assert record.transcript_version is None

    # EventBridge's retry, once Deepgram is back, finishes the job
    assert invoke(stack, event, call_sid)["result"] == "reconciled"


def test_twilio_5xx_is_retried_and_a_missing_recording_is_not(stack: Stack, call_sid: str) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    stack.twilio.fail_next(503)
    assert invoke(stack, event, call_sid)["result"] == "reconciled"
    assert [s.status for s in stack.twilio.seen] == [503, 200]

    other = "CA" + call_sid[2:][::-1]
    missing = recording_sid_for(other)
    stack.seed(other, a_call(other), missing)
    event = stack.recording_completed(other, missing, call)
    del stack.twilio.recordings[missing]
    stack.twilio.script.seen.clear()
    with pytest.raises(RecordingNotFoundError):
        invoke(stack, event, other)
    assert [s.status for s in stack.twilio.seen] == [404]
    listed = aws.s3().list_objects_v2(Bucket=BUCKET, Prefix="recordings/")
    assert not any(other in item["Key"] for item in listed.get("Contents", []))


def test_an_event_of_another_type_or_without_its_fields_is_refused(stack: Stack, call_sid: str) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    for broken in (
        {**event, "detail-type": "Transcript Completed"},
        {**event, "detail": {**event["detail"], "recordingSid": "RE123"}},
        {key: value for key, value in event.items() if key != "account"},
    ):
        with pytest.raises(ValidationError):
            invoke(stack, broken, call_sid)
    assert stack.twilio.seen == []
