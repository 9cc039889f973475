"""The recordings Lambda end to end: a signed recording callback into the webhooks handler is stored,
and the outbox announces `Recording Completed` on the bus (moto); that real-shaped EventBridge event
goes into the recordings handler's code, which downloads the WAV from the Twilio stand-in (basic
auth), stores it in S3 (moto), has the Deepgram stand-in transcribe it (`POST /v1/listen`, `Token`
auth; it hears each channel's tone as the synthetic call's words, tests/support/tone_recognizer.py)
and reconciles it with the live segments in DynamoDB (moto); `Transcript Reconciled` is read back
from the bus."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from pydantic import ValidationError

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.deepgram_prerecorded import PrerecordedApi
from callscribe_local.deepgram_server import DeepgramStandIn
from callscribe_local.loop_thread import LoopThread
from callscribe_local.twilio_rest import RecordedRequest, TwilioRestStandIn
from functions.recordings import app
from functions.recordings.errors import (
    RecordingNotFoundError,
    RecordingUnavailableError,
    TranscriptionRejectedError,
)
from functions.recordings.service import RecordingService
from functions.recordings.settings import RecordingSettings
from shared import aws, clock
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.records import CallParties, CallUpsert, StreamClaim
from shared.dal.segments import DynamoSegments
from shared.status import TranscriptStatus
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.apigw_events import json_event, twilio_event
from tests.support.lambda_container import LambdaContainer
from tests.support.synthetic_call import SyntheticCall, synthetic_call
from tests.support.tone_recognizer import ToneWords
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
    recordings: LambdaContainer[RecordingService]
    twilio: TwilioRestStandIn
    deepgram: PrerecordedApi
    tones: ToneWords
    bus: BusTap

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
        owner = "seeded-stream"
        stream.claim_stream(
            StreamClaim(call_sid, owner, "MZ" + call_sid[2:], clock.iso(call.stream_started_at))
        )
        DynamoSegments(self.local.names.transcripts_table).write_segments(
            [replace(s, call_sid=call_sid) for s in call.live]
        )
        stream.transcript_finished(call_sid, owner, TranscriptStatus(live_status), len(call.live), None)
        # the recording Twilio holds: the call's words, as the Deepgram stand-in will hear them
        wav = self.tones.recording(call.words, seconds=max(w.end for w in call.words) + 1.0)
        self.twilio.add_recording(recording_sid, wav, call_sid=call_sid, channels=2)

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

    def media_requests(self, recording_sid: str | None = None) -> list[RecordedRequest]:
        """What the Twilio stand-in was asked about recordings (all of them, or one)."""
        return self.twilio.recording_requests(recording_sid)


def _service(env: Mapping[str, str]) -> RecordingService:
    return app.build_service(RecordingSettings.from_env(env))


@pytest.fixture
def deepgram() -> Iterator[tuple[DeepgramStandIn, ToneWords]]:
    tones = ToneWords()
    loop = LoopThread("deepgram-stand-in")
    standin = DeepgramStandIn(tones, api_key=DEEPGRAM_KEY)
    try:
        loop.run(standin.start())
        yield standin, tones
        loop.run(standin.stop())
    finally:
        loop.close()


@pytest.fixture
def stack(
    local_stack: LocalAws, webhooks: Webhooks, bus_tap: BusTap, deepgram: tuple[DeepgramStandIn, ToneWords]
) -> Iterator[Stack]:
    standin, tones = deepgram
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as twilio:
        env = {
            **os.environ,
            "RECORDINGS_BUCKET": BUCKET,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio.base_url,
            "DEEPGRAM_URL": standin.url,
            "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
            "RECORDING_RETRY_BACKOFF_SECONDS": "0",
        }
        recordings = LambdaContainer(_service, app.create_handler, env)
        yield Stack(local_stack, webhooks, recordings, twilio, standin.prerecorded, tones, bus_tap)


def invoke(stack: Stack, event: dict[str, Any]) -> dict[str, Any]:
    return stack.recordings(
        event, FakeLambdaContext(function_name="callscribe-recordings", remaining_ms=600_000)
    )


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

    outcome = invoke(stack, event)

    assert outcome["result"] == "reconciled"
    assert outcome["transcriptSource"] == "live+recording"
    # the WAV came from Twilio with basic auth, and went to Deepgram whole, with the live options
    # (both stand-ins refuse a request without their credentials: 401, which no retry gets past)
    [download] = [r for r in stack.media_requests() if r.method == "GET"]
    assert download.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/{recording_sid}.wav"
    assert download.status == 200
    [listen] = stack.deepgram.requests
    assert listen.status == 200
    assert listen.body_bytes == len(stack.twilio.recordings[recording_sid].wav)
    assert ("multichannel", "true") in listen.multi_params
    assert ("model", "nova-3") in listen.multi_params
    assert ("smart_format", "true") in listen.multi_params

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
    stack: Stack, call_sid: str
) -> None:
    stack.recordings.configure(DELETE_TWILIO_RECORDINGS="true")
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)

    first = invoke(stack, event)
    assert recording_sid not in stack.twilio.recordings  # deleted once ours was stored and named
    methods = [r.method for r in stack.media_requests(recording_sid)]
    assert methods == ["GET", "DELETE"]
    segments_after_first = DynamoSegments(stack.local.names.transcripts_table).list_segments(call_sid)

    second = invoke(stack, event)  # EventBridge's retry, or the sweeper's re-drive

    assert second["result"] == "unchanged"
    assert second["transcriptVersion"] == first["transcriptVersion"]
    # no second download (and Twilio's 404 for the copy deleted already is fine)
    assert [r.method for r in stack.media_requests(recording_sid)] == ["GET", "DELETE", "DELETE"]
    assert DynamoSegments(stack.local.names.transcripts_table).list_segments(call_sid) == segments_after_first


def test_a_deepgram_400_is_not_retried_and_is_reported_as_such(
    stack: Stack, call_sid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    stack.deepgram.fail_next(1, 400)
    before = DynamoCallReader(stack.local.names.calls_table).get(call_sid)

    with pytest.raises(TranscriptionRejectedError):
        invoke(stack, event)

    assert len(stack.deepgram.requests) == 1
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
    for status in (500, 502, 503):
        stack.deepgram.fail_next(1, status)

    with pytest.raises(RecordingUnavailableError) as raised:
        invoke(stack, event)

    assert raised.value.reason == "deepgram-unavailable"
    assert [r.status for r in stack.deepgram.requests] == [500, 502, 503]
    record = DynamoCallReader(stack.local.names.calls_table).get(call_sid)
    assert record is not None
    assert record.transcript_version is None

    # EventBridge's retry, once Deepgram is back, finishes the job
    assert invoke(stack, event)["result"] == "reconciled"


def test_twilio_5xx_is_retried_and_a_missing_recording_is_not(stack: Stack, call_sid: str) -> None:
    call, recording_sid = a_call(call_sid), recording_sid_for(call_sid)
    stack.seed(call_sid, call, recording_sid)
    event = stack.recording_completed(call_sid, recording_sid, call)
    stack.twilio.fail_recording(recording_sid, 503)
    assert invoke(stack, event)["result"] == "reconciled"
    assert [r.status for r in stack.media_requests(recording_sid)] == [503, 200]

    other = "CA" + call_sid[2:][::-1]
    missing = recording_sid_for(other)
    stack.seed(other, a_call(other), missing)
    event = stack.recording_completed(other, missing, call)
    del stack.twilio.recordings[missing]
    with pytest.raises(RecordingNotFoundError):
        invoke(stack, event)
    assert [r.status for r in stack.media_requests(missing)] == [404]
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
            invoke(stack, broken)
    assert stack.media_requests() == []
