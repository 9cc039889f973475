"""Every product metric the synthesised template reads is one its tier really emits.

What is read comes from the synthesised CloudFormation template (the session's `synth`): the alarms,
the dashboard's widgets and the streamer's scaling policy, never the Python constants infra built
them from. What is emitted comes from running each tier's own code (its success path and the failure
paths an alarm watches) with the environment the template gives it, and reading back the EMF it
printed (tests/support/emf.py). CloudWatch keys a metric by namespace, name and the whole dimension
set, so a read is satisfied only by an emitted metric with all three equal; a metric an alarm or the
scaling policy reads must also have counted something on the path it watches. Every name and
dimension a tier emits must be one its names module owns (`functions/<tier>/metric_names.py`,
`streamer/contract.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from botocore.credentials import ReadOnlyCredentials
from websockets.exceptions import ConnectionClosed

from callscribe_local.apigw import LocalLambdaContext
from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.aws_local import LOCAL_REGION, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from functions.call_feed import app as call_feed_app
from functions.call_feed import metric_names as call_feed_names
from functions.outbox import app as outbox_app
from functions.outbox import metric_names as outbox_names
from functions.outbox.bus import EventBridgeSink
from functions.outbox.service import Outbox
from functions.recordings import app as recordings_app
from functions.recordings import metric_names as recording_names
from functions.recordings.errors import RecordingNotFoundError
from functions.recordings.service import RecordingService
from functions.recordings.settings import RecordingSettings
from functions.summaries import metric_names as summary_names
from functions.summaries.errors import DeadlineError
from functions.summaries.inputs import TranscriptCompletedDetail
from functions.summaries.service import SummaryService
from functions.summaries.settings import SummarySettings
from functions.sweeper import app as sweeper_app
from functions.sweeper import metric_names as sweeper_names
from functions.sweeper.service import SweeperService, SweepIncompleteError, SweepPolicy
from functions.sweeper.twilio_check import TwilioCheck, TwilioPolicy
from functions.sweeper.twilio_rest import TwilioCall, TwilioRecording
from functions.webhooks import app as webhooks_app
from functions.webhooks import metric_names as webhook_names
from functions.webhooks.cdr import advance
from functions.webhooks.logic import Services
from functions.webhooks.settings import WebhookSettings
from shared import clock, observability
from shared.dal.keys import segment_key
from shared.dal.records import CallParties, CallUpsert, RecordingUpdate, Segment
from shared.feed_publisher import FeedPublisher
from shared.status import CallStatus
from shared.status_changes import StatusChange
from shared.telemetry import SERVICE_DIMENSION
from streamer import contract as streamer_names
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.infra.conftest import Synth
from tests.infra.helpers import function
from tests.support.apigw_events import twilio_event
from tests.support.emf import Capture, Dimensions, Emitted, capture_stdout, lambda_metrics
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_calls.summaries import FakeSummaryCalls
from tests.support.fake_calls.sweep import FakeSweeperCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_publisher import FakePublisher
from tests.support.fake_segments import FakeSegments
from tests.support.fake_twilio import FakeTwilio
from tests.support.feed_wire import LOCAL_CREDENTIALS, feed_fixture  # noqa: F401 - fixture
from tests.support.people import people_pool_fixture  # noqa: F401 - fixture
from tests.support.recording_fakes import FakeMedia, FakeStore, FakeTranscriber
from tests.support.recording_media import wav_bytes
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for
from tests.support.stream_records import stream_event
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    streamer_running,
    twilio_stream,
    until,
    wait_for_call_end,
)
from tests.support.synthetic_call import CALL_SID, synthetic_call
from tests.support.twilio_forms import rfc2822, status_params, voice_params
from tests.unit.summaries.builders import FakeModel

pytestmark = pytest.mark.infra

# ---- what the template reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    namespace: str
    name: str
    dimensions: Dimensions
    reader: str  # where in the template, for the failure message
    watched: bool  # an alarm or the scaling policy: the path it watches must count something

    @property
    def key(self) -> tuple[str, str, Dimensions]:
        return self.namespace, self.name, self.dimensions

    def __str__(self) -> str:
        return f"{self.reader}: {self.namespace}/{self.name} {dict(self.dimensions)}"


def _dimensions(items: list[dict[str, Any]]) -> Dimensions:
    return frozenset(
        (d["Name"], d["Value"] if isinstance(d["Value"], str) else json.dumps(d["Value"])) for d in items
    )


def _stat_metrics(properties: dict[str, Any], reader: str) -> Iterator[dict[str, Any]]:
    """The metrics an alarm or a scaling policy reads: its own, or those of its metric math."""
    if "MetricName" in properties:
        yield properties
    for query in properties.get("Metrics", []):
        if "MetricStat" in query:
            yield query["MetricStat"]["Metric"]
        else:
            expression = query.get("Expression", "")
            assert "SEARCH" not in expression.upper(), f"{reader}: a SEARCH cannot be checked"


def _alarm_reads(synth: Synth) -> Iterator[Read]:
    for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items():
        reader = f"alarm {logical_id}"
        for metric in _stat_metrics(alarm["Properties"], reader):
            dims = _dimensions(metric.get("Dimensions", []))
            yield Read(metric["Namespace"], metric["MetricName"], dims, reader, watched=True)


def _scaling_reads(synth: Synth) -> Iterator[Read]:
    for logical_id, policy in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").items():
        tracking = policy["Properties"].get("TargetTrackingScalingPolicyConfiguration", {})
        spec = tracking.get("CustomizedMetricSpecification")
        reader = f"scaling policy {logical_id}"
        for metric in _stat_metrics(spec, reader) if spec else ():
            dims = _dimensions(metric.get("Dimensions", []))
            yield Read(metric["Namespace"], metric["MetricName"], dims, reader, watched=True)


def _dashboard_reads(synth: Synth) -> Iterator[Read]:
    """Each graphed metric: `[namespace, name, dim, value, ..., {options}]` in the widget's JSON, whose
    CloudFormation tokens (region, resource names) sit inside strings and are kept as placeholders."""
    for logical_id, dashboard in synth.resources("AWS::CloudWatch::Dashboard").items():
        body = dashboard["Properties"]["DashboardBody"]
        parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
        widgets = json.loads("".join(p if isinstance(p, str) else "<token>" for p in parts))["widgets"]
        for widget in widgets:
            properties = widget.get("properties", {})
            reader = f"dashboard {logical_id}, widget {properties.get('title')!r}"
            for entry in properties.get("metrics", []):
                if isinstance(entry[0], dict):  # metric math: its inputs are entries of their own
                    assert "SEARCH" not in entry[0]["expression"].upper(), f"{reader}: cannot check a SEARCH"
                    continue
                namespace, name, *rest = entry
                if rest and isinstance(rest[-1], dict):
                    rest.pop()
                assert "." not in (namespace, name), f"{reader}: the short form {entry} is not read here"
                assert len(rest) % 2 == 0, f"{reader}: not name/value pairs: {entry}"
                dims = frozenset(zip(rest[::2], rest[1::2], strict=True))
                yield Read(namespace, name, dims, reader, watched=False)


def product_reads(synth: Synth) -> list[Read]:
    """Every read of a metric outside AWS's own namespaces (AWS/Lambda, AWS/SQS, ...)."""
    reads = [*_alarm_reads(synth), *_scaling_reads(synth), *_dashboard_reads(synth)]
    return [r for r in reads if not r.namespace.startswith("AWS/")]


def lambda_environment(synth: Synth, tier: str) -> dict[str, str]:
    _, properties = function(synth, f"functions.{tier}.app.handler")
    return dict(properties["Environment"]["Variables"])


def streamer_environment(synth: Synth) -> dict[str, str]:
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = [c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "streamer"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def environments(synth: Synth) -> dict[str, dict[str, str]]:
    tiers = ("webhooks", "summaries", "recordings", "sweeper", "outbox", "call_feed")
    return {**{t: lambda_environment(synth, t) for t in tiers}, "streamer": streamer_environment(synth)}


def reads_of(synth: Synth, environment: dict[str, str]) -> list[Read]:
    service = (SERVICE_DIMENSION, environment["POWERTOOLS_SERVICE_NAME"])
    return [r for r in product_reads(synth) if service in r.dimensions]


# ---- what a tier emits, against what is read --------------------------------------------------------


def owned_names(module: ModuleType) -> set[str]:
    """The metric names a names module defines (its upper-case strings but the service name, dimension
    names and, in the streamer's contract, paths)."""
    return {
        value
        for key, value in vars(module).items()
        if key.isupper()
        and isinstance(value, str)
        and key != "SERVICE_NAME"
        and not key.endswith(("_DIMENSION", "_PATH"))
    }


def owned_dimensions(module: ModuleType) -> set[str]:
    extra = {v for k, v in vars(module).items() if k.endswith("_DIMENSION") and isinstance(v, str)}
    return {SERVICE_DIMENSION, *extra}


def assert_emits_what_is_read(
    reads: list[Read], emitted: list[Emitted], names: ModuleType, environment: dict[str, str]
) -> None:
    assert emitted, "the tier's code paths emitted no metric"
    keys = {e.key for e in emitted}
    missing = sorted({str(r) for r in reads if r.key not in keys})
    assert not missing, "read, never emitted (name, namespace or dimensions differ):\n" + "\n".join(missing)
    counted = {e.key for e in emitted if any(v > 0 for v in e.values)}
    silent = sorted({str(r) for r in reads if r.watched and r.key not in counted})
    assert not silent, "watched, but the path it watches counted nothing:\n" + "\n".join(silent)

    unowned = sorted({e.name for e in emitted} - owned_names(names))
    assert not unowned, f"emitted names {names.__name__} does not own: {unowned}"
    dimensions = sorted({d for e in emitted for d, _ in e.dimensions} - owned_dimensions(names))
    assert not dimensions, f"emitted dimensions {names.__name__} does not own: {dimensions}"
    service = (SERVICE_DIMENSION, environment["POWERTOOLS_SERVICE_NAME"])
    assert all(service in e.dimensions for e in emitted), "every metric carries the tier's service"
    assert {e.namespace for e in emitted} == {environment["POWERTOOLS_METRICS_NAMESPACE"]}


def test_every_product_metric_the_template_reads_is_a_tiers(synth: Synth) -> None:
    """A read no tier's service would satisfy (a service name renamed on one side) is caught here;
    the tests below then check each tier's own reads."""
    services = {env["POWERTOOLS_SERVICE_NAME"]: env for env in environments(synth).values()}
    reads = product_reads(synth)
    assert {r.reader.split(" ")[0] for r in reads} == {"alarm", "scaling", "dashboard"}
    orphans = [str(r) for r in reads if not any((SERVICE_DIMENSION, s) in r.dimensions for s in services)]
    assert not orphans, "read, but no tier has that service:\n" + "\n".join(orphans)
    for read in reads:
        (service,) = [v for d, v in read.dimensions if d == SERVICE_DIMENSION]
        assert read.namespace == services[service]["POWERTOOLS_METRICS_NAMESPACE"], str(read)


# ---- webhooks ---------------------------------------------------------------------------------------

CALLED = "+14155550199"


def test_the_webhooks_emit_what_the_template_reads(synth: Synth) -> None:
    environment = lambda_environment(synth, "webhooks")
    services = Services(
        settings=WebhookSettings.from_env(
            {
                "CALLS_TABLE": "calls",
                "TRANSCRIPTS_TABLE": "segments",
                "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
                "STREAM_URL": "wss://stream.example.com/media",
                "CALL_ROUTES": json.dumps({CALLED: {"forwardTo": "+14155550111"}}),
            }
        ),
        store=FakeWebhookCalls(),
        calls_api=lambda: pytest.fail("no route here creates a call"),
        segments=FakeSegments(),
    )
    # The Lambda's handler is this resolver under the same Powertools decorator, over the real wiring.
    handler = observability.metrics.log_metrics(webhooks_app.create_app(lambda: services))
    call_sid = "CA" + uuid.uuid4().hex

    def answer(event: dict[str, Any]) -> int:
        return int(handler(event, LocalLambdaContext(function_name="callscribe-webhooks"))["statusCode"])

    with lambda_metrics(environment) as capture:
        answered = [
            answer(twilio_event("/twilio/voice", voice_params(call_sid, called=CALLED))),
            answer(twilio_event("/twilio/status", status_params(call_sid, "in-progress", 1))),
            answer(twilio_event("/twilio/voice", voice_params(call_sid), auth_token="not-the-token")),
            answer(twilio_event("/twilio/status", status_params(call_sid, "completed", 2))),
        ]

    assert answered == [200, 204, 403, 204]
    assert_emits_what_is_read(reads_of(synth, environment), capture.emitted, webhook_names, environment)


# ---- summaries --------------------------------------------------------------------------------------


def test_the_summaries_emit_what_the_template_reads(synth: Synth) -> None:
    """The service's paths (a summary, a call without speech, a failure); the handler's own one
    metric is checked by tests/unit/test_metric_names.py (running it needs the idempotency table)."""
    environment = lambda_environment(synth, "summaries")
    spoken, silent, failing = ("CA" + uuid.uuid4().hex for _ in range(3))
    lines = [(spoken, 1.0, "Hi, I'd like to move my appointment."), (failing, 1.0, "Hello?")]
    segments = FakeSegments(
        [
            Segment(
                call_sid=sid,
                segment_key=segment_key(start, "inbound"),
                track="inbound",
                speaker="caller",
                text=text,
                start=start,
                end=start + 2,
            )
            for sid, start, text in lines
        ]
    )
    service = SummaryService(
        SummarySettings.from_env(
            {
                "CALLS_TABLE": "calls",
                "TRANSCRIPTS_TABLE": "segments",
                "IDEMPOTENCY_TABLE": "idempotency",
                "ANTHROPIC_API_KEY": "sk-test",
            }
        ),
        FakeSummaryCalls(),
        segments,
        lambda: FakeModel(model="claude-haiku-5-5-20261007"),
    )

    def create(call_sid: str, segment_count: int, remaining: float = 300.0) -> str:
        detail = {"callSid": call_sid, "segmentCount": segment_count, "transcriptStatus": "completed"}
        outcome = service.create(TranscriptCompletedDetail.model_validate(detail), lambda: remaining)
        return str(outcome["result"])

    with lambda_metrics(environment) as capture:
        assert [create(spoken, 1), create(silent, 0)] == ["created", "no-conversation"]
        with pytest.raises(DeadlineError):
            create(failing, 1, remaining=12.0)

    assert_emits_what_is_read(reads_of(synth, environment), capture.emitted, summary_names, environment)


# ---- recordings -------------------------------------------------------------------------------------

RECORDINGS_ENV = {
    "CALLS_TABLE": "calls",
    "TRANSCRIPTS_TABLE": "segments",
    "RECORDINGS_BUCKET": "recordings",
    "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": "token",
    "DEEPGRAM_API_KEY": "dg-key",
}


def test_the_recordings_lambda_emits_what_the_template_reads(synth: Synth) -> None:
    """A recording reconciled (the dashboard's lag, filled seconds and coverage), then one Twilio no
    longer has (a failure, counted in total and by reason), through the Lambda's handler."""
    environment = lambda_environment(synth, "recordings")
    call = synthetic_call(seconds=30.0, missing={"inbound": [(10.0, 16.0)]})
    recording_sid, gone_sid = "RE" + "7" * 32, "RE" + "8" * 32
    calls = FakeRecordingCalls()
    hooks = FakeWebhookCalls(calls.table)
    calls.items[CALL_SID] = {
        "call_sid": CALL_SID,
        "route": "forward",
        "status": "completed",
        "stream_started_at": clock.iso(call.stream_started_at),
        "transcript_status": "completed",
        "ended_at": clock.iso(clock.now() - timedelta(minutes=2)),
    }
    ops: list[tuple[str, str]] = []
    service = RecordingService(
        RecordingSettings.from_env(RECORDINGS_ENV),
        calls=calls,
        segments=FakeSegments(call.live),
        # as long as the recording its words come from: an answer past the WAV's end is refused
        media=FakeMedia(ops, {recording_sid: wav_bytes(max(w.end for w in call.words) + 1.0)}),
        store=FakeStore(ops),
        transcriber=FakeTranscriber(ops, words=list(call.words)),
    )
    handler = recordings_app.create_handler(lambda: service)  # the handler's code, on fakes
    context = LocalLambdaContext(function_name="callscribe-recordings", timeout_seconds=900.0)

    def invoke(sid: str) -> dict[str, Any]:
        hooks.update_recording(
            RecordingUpdate(
                CALL_SID, sid, "completed", channels=2, started_at=rfc2822(call.recording_started_at)
            )
        )
        detail = {
            "callSid": CALL_SID,
            "recordingSid": sid,
            "channels": 2,
            "durationSeconds": 30,
            "startTime": clock.iso(call.recording_started_at),
        }
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Recording Completed",
            "source": "callscribe",
            "account": "123456789012",
            "time": clock.now_iso(),
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
        result: dict[str, Any] = handler(event, context)
        return result

    with lambda_metrics(environment) as capture:
        assert invoke(recording_sid)["result"] == "reconciled"
        with pytest.raises(RecordingNotFoundError):
            invoke(gone_sid)

    reads = reads_of(synth, environment)
    assert reads, "the dashboard graphs the recordings Lambda"
    assert_emits_what_is_read(reads, capture.emitted, recording_names, environment)
    by_reason = {
        dict(e.dimensions).get(recording_names.REASON_DIMENSION)
        for e in capture.emitted
        if e.name == recording_names.RECORDING_FAILURES
    }
    assert by_reason == {None, "recording-not-found"}  # the total, and the breakdown


# ---- sweeper ----------------------------------------------------------------------------------------


def test_the_sweeper_emits_what_the_template_reads(synth: Synth) -> None:
    """One run through the Lambda's handler over due calls in the states the alarms watch: settled,
    re-driven, given up on, one whose re-drive fails (the run then raises), and two whose callbacks
    were lost: Twilio answers for one (its status and recording applied) and fails for the other."""
    environment = lambda_environment(synth, "sweeper")
    table = FakeCallTable()
    calls, hooks, publisher = FakeSweeperCalls(table), FakeWebhookCalls(table), FakePublisher()
    ended = clock.iso(clock.now() - timedelta(hours=1))
    finished = {
        "transcript_status": "completed",
        "segment_count": 4,
        "summary": {"summary": "Moved to Friday."},
    }
    unsummarised = {k: v for k, v in finished.items() if not k.startswith("summary")}  # as DynamoDB has it
    states = {
        "settled": finished,
        "redriven": unsummarised,  # its summary never came: marked failed, re-driven
        "failing": {**finished, "summary": None},
        "given up": {**finished, "summary": None, "sweep_attempts": 2},
    }
    for state in states.values():
        call_sid = "CA" + uuid.uuid4().hex
        advance(hooks, StatusChange(call_sid, CallStatus.COMPLETED, ended, duration_seconds=60))
        calls.items[call_sid].update(state)
    publisher.fail_times = 1  # the first re-drive's publish fails
    twilio = FakeTwilio()
    started = clock.now() - timedelta(hours=2)
    for status in ("completed", "failing"):
        call_sid = "CA" + uuid.uuid4().hex
        hooks.upsert_call(CallUpsert(call_sid, CallParties(), clock.iso(started), recording_expected=True))
        advance(hooks, StatusChange(call_sid, CallStatus.IN_PROGRESS, clock.iso(started)))
        if status == "completed":
            ended = started + timedelta(minutes=3)
            twilio.calls[call_sid] = TwilioCall(
                sid=call_sid, status="completed", end_time=ended, duration_seconds=180
            )
            twilio.recordings[call_sid] = [TwilioRecording(sid="RE" + "1" * 32, url="u", status="completed")]
    # the second call's read fails: Twilio answers 404 for it (counted, and asked again later)
    check = TwilioCheck(TwilioPolicy(), calls, twilio)
    service = SweeperService(SweepPolicy(max_attempts=2), calls, FakeSegments(), publisher, twilio=check)
    handler = sweeper_app.create_handler(lambda: service)  # the handler's code, on fakes
    event = {"id": str(uuid.uuid4()), "time": clock.now_iso(), "detail-type": "Scheduled Event"}

    with lambda_metrics(environment) as capture, pytest.raises(SweepIncompleteError, match="1 of 6"):
        handler(event, LocalLambdaContext(function_name="callscribe-sweeper"))

    reads = reads_of(synth, environment)
    assert reads, "the alarms and the dashboard read the sweeper"
    assert_emits_what_is_read(reads, capture.emitted, sweeper_names, environment)
    (marked,) = [e for e in capture.emitted if e.name == sweeper_names.SUMMARIES_FAILED]
    assert max(marked.values) == 1


# ---- outbox -----------------------------------------------------------------------------------------


class _DeadLetters:
    def park(self, record: Any, reasons: Any) -> None:
        return None


def test_the_outbox_emits_what_the_template_reads(synth: Synth) -> None:
    """Batches through the Lambda's handler: writes announced, one parked (no event can describe it),
    then the bus failing for a record (retried)."""
    environment = lambda_environment(synth, "outbox")
    table, publisher = FakeCallTable(), FakePublisher()
    hooks = FakeWebhookCalls(table)
    for status in (CallStatus.RINGING, CallStatus.COMPLETED):
        advance(hooks, StatusChange("CA" + "1" * 32, status, clock.now_iso(), duration_seconds=5))
    hooks.update_recording(RecordingUpdate("CA" + "1" * 32, "not-a-recording-sid", "completed"))
    for status in (CallStatus.RINGING, CallStatus.COMPLETED):
        advance(hooks, StatusChange("CA" + "2" * 32, status, clock.now_iso(), duration_seconds=5))
    outbox = Outbox([EventBridgeSink(publisher)], _DeadLetters())
    handler = outbox_app.create_handler(lambda: outbox)  # the Lambda's entry point code, on fakes
    context = LocalLambdaContext(function_name="callscribe-outbox")

    with lambda_metrics(environment) as capture:
        first = handler(stream_event(table.stream[:3]), context)
        publisher.fail_times = 1
        second = handler(stream_event(table.stream[3:], first=4), context)

    assert first == {"batchItemFailures": []}
    assert len(second["batchItemFailures"]) == 1  # the terminal status; the ringing before it is done
    reads = reads_of(synth, environment)
    assert reads, "the dashboard graphs the outbox"
    assert_emits_what_is_read(reads, capture.emitted, outbox_names, environment)


# ---- call feed --------------------------------------------------------------------------------------


def _stream_record(call_sid: str, status: str) -> dict[str, Any]:
    """One record of the calls table's stream as Lambda delivers it: a call that appeared."""
    image = {"call_sid": {"S": call_sid}, "started_at": {"S": clock.now_iso()}, "status": {"S": status}}
    change = {
        "Keys": {"call_sid": image["call_sid"]},
        "NewImage": image,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": change,
    }


def _same(credentials: ReadOnlyCredentials) -> ReadOnlyCredentials:
    return credentials


@pytest.mark.integration
def test_the_call_feed_emits_what_the_template_reads(synth: Synth, feed: AppSyncEventsStandIn) -> None:
    """Two batches through the Lambda's handler, publishing to the AppSync Events stand-in over SigV4:
    the first accepted, the second refused (signed with credentials AppSync does not know, as a role
    that lost appsync:EventPublish would be: what the publish-failures alarm watches)."""
    environment = lambda_environment(synth, "call_feed")
    known = LOCAL_CREDENTIALS.get_frozen_credentials()
    unknown = ReadOnlyCredentials("AKIDNOTKNOWN", "not-the-secret", None)
    publishers = []
    for credentials in (known, unknown):
        tally = call_feed_app.Tally()
        publisher = FeedPublisher(
            feed.http_url, LOCAL_REGION, tally, credentials=functools.partial(_same, credentials), senders=1
        )
        publisher.start()
        publishers.append((publisher, tally))
    batches = iter(publishers)
    handler = call_feed_app.create_handler(lambda: next(batches))  # the handler's code, on the stand-in
    context = LocalLambdaContext(function_name="callscribe-call-feed")
    try:
        with lambda_metrics(environment) as capture:
            for status in ("ringing", "in-progress"):
                event = {"Records": [_stream_record("CA" + uuid.uuid4().hex, status)]}
                assert handler(event, context) == {"updates": 1}
    finally:
        for publisher, _ in publishers:
            publisher.stop()

    reads = reads_of(synth, environment)
    assert reads, "the alarms and the dashboard read the call feed"
    assert_emits_what_is_read(reads, capture.emitted, call_feed_names, environment)
    totals = {e.name: sum(e.values) for e in capture.emitted}
    assert totals[call_feed_names.FEED_EVENTS_PUBLISHED] == 2  # on the board and on the call's channel
    assert totals[call_feed_names.FEED_PUBLISH_FAILURES] == 2


# ---- streamer ---------------------------------------------------------------------------------------


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


def _active_calls_flushed(capture: Capture) -> bool:
    return any(e.name == streamer_names.ACTIVE_CALLS and max(e.values) > 0 for e in capture.so_far())


@pytest.mark.integration
async def test_the_streamer_emits_what_the_template_reads(
    synth: Synth, local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    """The real streamer with the task definition's service name, flushing every 50 ms: a call whose
    first Deepgram connection is refused (a reconnect), segments stored, the metrics flushed while
    the call is up (what scaling reads), and a stream refused at `start` (a missing token)."""
    environment = streamer_environment(synth)
    deepgram.refuse_next(1, status=503)
    overrides = {
        "POWERTOOLS_SERVICE_NAME": environment["POWERTOOLS_SERVICE_NAME"],
        "METRICS_INTERVAL_SECONDS": "0.05",
    }
    with capture_stdout() as capture:
        async with streamer_running(local_stack, deepgram.url, **overrides) as server:
            call = twilio_stream(server, call_sid)
            await call.open()
            await call.start(tracks=("inbound",))
            await call.play({"inbound": audio_for(["alpha", "bravo", None, "charlie"])})
            await until(lambda: _active_calls_flushed(capture))
            await call.stop()

            refused = twilio_stream(server, "CA" + uuid.uuid4().hex)
            await refused.open()
            await refused.start(tracks=("inbound",), custom_parameters={"route": "forward"}, signed=False)
            with contextlib.suppress(ConnectionClosed):
                await refused.stop()
            async with asyncio.timeout(10):
                await refused.wait_closed()
            await wait_for_call_end(server)

    reads = reads_of(synth, environment)
    assert reads, "the alarms, the dashboard and the scaling policy read the streamer"
    # stdout is the process's: the session's in-process outbox (tests/support/running_outbox.py) may
    # print its own metrics meanwhile (with another tier's service, or none where the test process
    # sets none). Every document the streamer writes carries its service: those are the streamer's.
    ours = (SERVICE_DIMENSION, environment["POWERTOOLS_SERVICE_NAME"])
    emitted = [e for e in capture.emitted if ours in e.dimensions]
    assert_emits_what_is_read(reads, emitted, streamer_names, environment)
