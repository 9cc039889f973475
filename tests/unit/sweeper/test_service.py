"""`SweeperService` on the in-memory fakes: each state a due call can be in, and sweeping twice.

tests/integration/test_sweeper.py runs the same service through the handler on moto (the sparse
index, the conditional writes and the bus); these pin the decisions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.sweeper import metric_names as names
from functions.sweeper.service import SweeperService, SweepIncompleteError, SweepPolicy
from functions.webhooks.cdr import advance
from shared import clock
from shared.costs import Prices, call_cost, same_cost
from shared.dal.keys import recording_segment_key, segment_key, sweep_shard
from shared.dal.records import RECORDING, Call, Segment, TranscriptEnd
from shared.errors import StoreError
from shared.events import DomainEvent, RecordingCompleted, TranscriptCompleted
from shared.status import CallStatus, TranscriptStatus
from shared.status_changes import StatusChange
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.summaries import FakeSummaryCalls
from tests.support.fake_calls.sweep import FakeSweeperCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import announced
from tests.support.fake_publisher import FakePublisher
from tests.support.fake_segments import FakeSegments

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ENDED = "2026-11-22T09:45:00.000Z"  # 15 minutes ago: due with the default patience (10 minutes)
RECENT = "2026-11-22T09:55:00.000Z"  # 5 minutes ago: not yet
RECORDING_SID = "RE" + "a" * 32
SUMMARY = {"summary": "Moved to Friday."}


def sid(n: int) -> str:
    return "CA" + f"{n:032x}"


@dataclass
class Metrics:
    values: dict[str, float] = field(default_factory=dict)

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value


@dataclass
class World:
    calls: FakeSweeperCalls
    segments: FakeSegments
    publisher: FakePublisher
    metrics: Metrics
    clock: list[datetime]
    policy: SweepPolicy

    def sweeper(self) -> SweeperService:
        return SweeperService(
            self.policy,
            self.calls,
            self.segments,
            self.publisher,
            now=lambda: self.clock[0],
            metric_sink=self.metrics,
        )

    def sweep(self) -> dict[str, Any]:
        return self.sweeper().sweep().as_dict()

    def call(self, call_sid: str, *, ended_at: str = ENDED, **attributes: Any) -> None:
        """A call as the tiers left it: terminal status at `ended_at` (the marker), plus `attributes`."""
        advance(self.webhooks(), StatusChange(call_sid, CallStatus.COMPLETED, ended_at, duration_seconds=60))
        self.calls.items[call_sid].update(attributes)

    def webhooks(self) -> FakeWebhookCalls:
        """The webhooks' writes on the same table (the status writes set the sweeper's marker)."""
        return FakeWebhookCalls(self.calls.table)

    def item(self, call_sid: str) -> dict[str, Any]:
        return self.calls.items[call_sid]

    def events(self, call_sid: str | None = None) -> list[DomainEvent]:
        """What the sweeper published itself (its re-drives)."""
        return [e for e in self.publisher.events if call_sid is None or e.call_sid == call_sid]

    def announced(self, call_sid: str) -> list[DomainEvent]:
        """What the outbox announces of the writes to the call (the sweeper's included)."""
        return announced(self.calls.table, call_sid)


@pytest.fixture
def world() -> World:
    return World(
        FakeSweeperCalls(FakeCallTable(now=clock.iso(NOW))),
        FakeSegments(),
        FakePublisher(),
        Metrics(),
        [NOW],
        SweepPolicy(after_seconds=600, backoff_seconds=900, max_backoff_seconds=4 * 3600, max_attempts=3),
    )


def live_segments(call_sid: str, count: int) -> list[Segment]:
    return [
        Segment(
            call_sid=call_sid,
            segment_key=segment_key(i * 2.0, "inbound"),
            track="inbound",
            speaker="caller",
            text=f"words {i}",
            start=i * 2.0,
            end=i * 2.0 + 1,
        )
        for i in range(count)
    ]


def finished(**extra: Any) -> dict[str, Any]:
    """A call every tier finished: transcript, summary, recording reconciled."""
    return {
        "transcript_status": "completed",
        "segment_count": 4,
        "summary": SUMMARY,
        "recording": {"sid": RECORDING_SID, "status": "completed", "channels": 2, "duration_seconds": 55},
        "reconciled_at": ENDED,
        **extra,
    }


def test_a_status_write_marks_the_call_and_the_terminal_one_sets_when(world: World) -> None:
    """The first status marks the call from its own time (the sweeper decides from there when to ask
    Twilio about a call that never ends); a later one keeps it; the terminal one moves it to the end."""
    call_sid = sid(1)
    advance(world.webhooks(), StatusChange(call_sid, CallStatus.RINGING, "2026-11-22T09:00:00.000Z"))
    item = world.item(call_sid)
    assert (item["sweep_shard"], item["sweep_after"]) == (sweep_shard(call_sid), "2026-11-22T09:00:00.000Z")
    advance(world.webhooks(), StatusChange(call_sid, CallStatus.IN_PROGRESS, "2026-11-22T09:00:09.000Z"))
    assert world.item(call_sid)["sweep_after"] == "2026-11-22T09:00:00.000Z"
    advance(world.webhooks(), StatusChange(call_sid, CallStatus.COMPLETED, ENDED))
    assert world.item(call_sid)["sweep_after"] == ENDED


def test_a_finished_call_is_settled_and_leaves_the_index(world: World) -> None:
    world.call(sid(1), **finished())
    assert world.sweep()["settled"] == 1
    item = world.item(sid(1))
    assert "sweep_after" not in item
    assert "sweep_shard" not in item
    assert item["swept_at"] == clock.iso(NOW)
    assert world.events() == []
    assert world.sweep()["due"] == 0


def test_calls_that_never_streamed_or_recorded_expect_nothing(world: World) -> None:
    world.call(sid(1))  # no transcript status: no stream ever started (e.g. unanswered)
    world.call(sid(2), **finished(recording={"sid": RECORDING_SID, "status": "absent"}, reconciled_at=None))
    world.call(sid(3), **finished(recording={"sid": RECORDING_SID, "status": "failed"}, reconciled_at=None))
    assert world.sweep()["settled"] == 3
    assert world.events() == []


def test_a_settled_call_gets_the_cost_of_its_final_record(world: World) -> None:
    """The last writer's cost write failed (only logged there): the sweeper is the one left to fix it."""
    world.call(sid(1), **finished(direction="inbound"))
    world.item(sid(1))["cost"] = {"total_usd": 0.0085, "twilio_voice_usd": 0.0085, "voice_minutes": 1}
    prices = Prices()
    report = world.sweep()
    assert (report["settled"], report["costsRepaired"]) == (1, 1)
    expected = call_cost(Call.from_item(world.item(sid(1))), prices)
    assert same_cost(world.item(sid(1))["cost"], expected)
    assert world.item(sid(1))["cost"]["recording_minutes"] == 1  # the part the stale cost missed
    assert world.metrics.values[names.COSTS_REPAIRED] == 1


def test_a_right_cost_costs_the_sweeper_no_write(world: World) -> None:
    world.call(sid(1), **finished(direction="inbound"))
    world.item(sid(1))["cost"] = call_cost(
        Call.from_item(world.item(sid(1))), Prices(), "2026-11-22T09:46:00Z"
    )
    before = world.calls.writes
    report = world.sweep()
    assert (report["settled"], report["costsRepaired"]) == (1, 0)
    assert world.calls.writes == before + 1  # the settling write only
    assert world.item(sid(1))["cost"]["estimated_at"] == "2026-11-22T09:46:00Z"


def test_a_cost_that_cannot_be_stored_never_stops_the_settling(world: World) -> None:
    world.call(sid(1), **finished(direction="inbound"))

    def refused(call_sid: str, cost: Any, basis: Any) -> bool:
        raise StoreError("throttled")

    world.calls.save_cost = refused  # type: ignore[method-assign]
    report = world.sweep()
    assert (report["settled"], report["costsRepaired"], report["failed"]) == (1, 0, [])
    assert "sweep_after" not in world.item(sid(1))


def test_a_call_not_yet_due_is_left_alone(world: World) -> None:
    world.call(sid(1), ended_at=RECENT, transcript_status="in-progress")
    assert world.sweep()["due"] == 0
    assert world.item(sid(1))["transcript_status"] == "in-progress"


def test_a_stalled_transcript_is_finished_from_what_was_stored_and_reconciled(world: World) -> None:
    call_sid = sid(1)
    world.call(
        call_sid,
        transcript_status="in-progress",
        answered_at="2026-11-22T09:44:00.000Z",
        recording={
            "sid": RECORDING_SID,
            "status": "completed",
            "channels": 2,
            "duration_seconds": 55,
            "started_at": "Sun, 22 Nov 2026 09:44:02 +0000",
        },
    )
    filled = Segment(
        call_sid=call_sid,
        segment_key=recording_segment_key(30.0, "inbound"),
        track="inbound",
        speaker="caller",
        text="filled",
        start=30.0,
        end=31.0,
        origin=RECORDING,
    )
    world.segments.write_segments([*live_segments(call_sid, 3), filled])

    report = world.sweep()

    assert (report["redriven"], report["transcriptsFinished"]) == (1, 1)
    item = world.item(call_sid)
    assert (item["transcript_status"], item["segment_count"]) == ("incomplete", 3)
    assert "the stream never finished" in item["transcript_error"]
    assert "3 live segments" in item["transcript_error"]
    # the finishing write is announced by the outbox; the recording is re-driven by the sweeper
    assert [e for e in world.announced(call_sid) if isinstance(e, TranscriptCompleted)] == [
        TranscriptCompleted(callSid=call_sid, segmentCount=3, transcriptStatus="incomplete")
    ]
    (recording,) = world.events(call_sid)
    assert isinstance(recording, RecordingCompleted)
    assert json.loads(recording.detail_json()) == {
        "callSid": call_sid,
        "recordingSid": RECORDING_SID,
        "channels": 2,
        "durationSeconds": 55,
        "startTime": "2026-11-22T09:44:02.000Z",
    }
    # re-armed: the next look is after the backoff plus the patience, one attempt counted
    assert item["sweep_after"] == clock.iso(NOW + timedelta(seconds=900))
    assert item["sweep_attempts"] == 1
    before = dict(item)

    again = world.sweep()  # sweeping twice changes nothing
    assert again["due"] == 0
    assert len(world.events()) == 1
    assert world.item(call_sid) == before


def without_summary(**extra: Any) -> dict[str, Any]:
    """A finished call whose summary never came (no `summary` attribute at all, as DynamoDB has it)."""
    call = finished(**extra)
    del call["summary"]
    return call


def test_a_transcript_never_summarised_is_redriven_as_the_outbox_announced_it(world: World) -> None:
    world.call(sid(1), **finished(summary=None, transcript_status="incomplete"))
    world.call(sid(2), **finished())  # summarised: its `Summary Created` is the outbox's, nothing owed
    world.call(sid(3), **finished(summary=None, transcript_status="failed", segment_count=None))
    report = world.sweep()
    assert (report["transcriptCompletedRepublished"], report["settled"]) == (2, 1)
    details = {e.call_sid: e.detail_json() for e in world.events()}
    assert details[sid(1)] == f'{{"callSid":"{sid(1)}","segmentCount":4,"transcriptStatus":"incomplete"}}'
    assert details[sid(3)] == f'{{"callSid":"{sid(3)}","segmentCount":0,"transcriptStatus":"failed"}}'
    assert all(isinstance(e, TranscriptCompleted) for e in world.events())


def test_a_summary_that_never_came_is_marked_failed_and_redriven_until_one_is_stored(world: World) -> None:
    """Its event went to the DLQ (or was lost): the record says so, and the re-drive may still cure it."""
    world.call(sid(1), **without_summary())
    world.call(sid(2), **finished())  # a summary stored: never marked failed
    report = world.sweep()
    assert report["summariesMarkedFailed"] == 1
    assert world.metrics.values[names.SUMMARIES_FAILED] == 1
    assert world.item(sid(1))["summary_status"] == "failed"
    assert "summary_status" not in world.item(sid(2))
    assert {e.call_sid for e in world.events()} == {sid(1)}

    FakeSummaryCalls(world.calls.table).save_summary(sid(1), SUMMARY, ENDED)  # the re-driven summary
    assert world.item(sid(1))["summary_status"] == "completed"


def test_a_summary_already_marked_failed_is_not_marked_again(world: World) -> None:
    world.call(sid(1), **without_summary(summary_status="failed"))
    assert world.sweep()["summariesMarkedFailed"] == 0
    assert world.item(sid(1))["summary_status"] == "failed"
    assert len(world.events()) == 1  # still re-driven


def test_an_unreconciled_recording_is_redriven_with_a_fallback_start(world: World) -> None:
    world.call(
        sid(1),
        answered_at="2026-11-22T09:44:00.000Z",
        **finished(reconciled_at=None, recording={"sid": RECORDING_SID, "status": "completed"}),
    )
    world.sweep()
    (event,) = world.events()
    assert isinstance(event, RecordingCompleted)
    assert (event.recording_sid, event.channels, event.duration_seconds, event.start_time) == (
        RECORDING_SID,
        1,
        0,
        "2026-11-22T09:44:00.000Z",
    )


def test_a_recording_event_without_any_start_time_leaves_start_time_out(world: World) -> None:
    """The contract's `startTime` is optional: the re-drive carries none rather than failing."""
    world.call(sid(1), **finished(reconciled_at=None))
    world.item(sid(1)).pop("started_at", None)
    world.item(sid(1)).pop("answered_at", None)
    world.sweep()
    (event,) = world.events()
    assert isinstance(event, RecordingCompleted)
    assert event.start_time is None
    detail = json.loads(event.detail_json())
    assert "startTime" not in detail
    assert RecordingCompleted.model_validate(detail) == event  # what the rule's consumer parses


def test_a_recording_reconciled_while_live_was_in_progress_is_redriven_once_live_is_final(
    world: World,
) -> None:
    world.call(sid(1), **finished(reconciled_transcript_status="in-progress"))
    world.call(sid(2), **finished(reconciled_transcript_status="completed"))
    world.call(sid(3), **finished(transcript_status="incomplete", reconciled_transcript_status="pending"))
    world.sweep()
    redriven = {e.call_sid for e in world.events() if isinstance(e, RecordingCompleted)}
    assert redriven == {sid(1), sid(3)}
    assert all(isinstance(e, RecordingCompleted) for e in world.events())  # nothing else was open
    assert "sweep_after" not in world.item(sid(2))  # reconciled from the final transcript: settled


def test_a_call_recorded_by_nothing_settles_as_live_only(world: World) -> None:
    unrecorded = finished(recording=None, reconciled_at=None, recording_expected=False)
    world.call(sid(1), **unrecorded)
    world.call(sid(2), **{**unrecorded, "summary": None})  # its summary was lost: re-driven first
    world.call(sid(3), **{**unrecorded, "recording_expected": True})  # a recording may still come
    report = world.sweep()
    assert report["settled"] == 2
    assert report["redriven"] == 1
    item = world.item(sid(1))
    assert "sweep_after" not in item
    assert "sweep_shard" not in item
    assert (item["transcript_source"], item["gaps"], item["filled_seconds"]) == ("live", [], 0)
    assert item["reconciled_transcript_status"] == "completed"
    assert item["reconciled_at"]
    assert item.get("live_coverage") is None  # nothing to measure live against
    assert item.get("transcript_version") is None  # no other transcript: the summary stands
    assert world.item(sid(3)).get("transcript_source") is None  # settled, but not claimed as live
    assert [type(e) for e in world.events()] == [TranscriptCompleted]  # no Transcript Reconciled
    # once its summary is stored, the second call settles as live only too
    world.item(sid(2))["summary"] = SUMMARY
    world.clock[0] = NOW + timedelta(hours=1)
    world.sweep()
    assert world.item(sid(2))["transcript_source"] == "live"
    before = {s: dict(world.item(s)) for s in (sid(1), sid(2), sid(3))}
    world.clock[0] = NOW + timedelta(hours=2)
    world.sweep()
    assert {s: world.item(s) for s in before} == before  # sweeping again changes nothing


def test_a_recording_still_at_twilio_is_waited_for_then_given_up(world: World) -> None:
    call_sid = sid(1)
    world.call(
        call_sid, **finished(reconciled_at=None, recording={"sid": RECORDING_SID, "status": "in-progress"})
    )
    waits = []
    for _ in range(3):
        report = world.sweep()
        waits.append(report["waiting"])
        world.clock[0] = clock.parse_iso(world.item(call_sid)["sweep_after"]) + timedelta(seconds=600)
    assert waits == [1, 1, 1]
    # backoff doubles: 15 min, 30 min, 60 min after each attempt
    assert world.item(call_sid)["sweep_attempts"] == 3

    report = world.sweep()  # out of attempts: parked, not re-driven forever
    assert report["gaveUp"] == 1
    item = world.item(call_sid)
    assert item["sweep_gave_up_at"] == clock.iso(NOW)
    assert "sweep_after" not in item
    assert world.metrics.values[names.GAVE_UP] == 1
    assert world.events() == []
    assert world.sweep()["due"] == 0


def test_backoff_doubles_up_to_its_maximum() -> None:
    policy = SweepPolicy(backoff_seconds=900, max_backoff_seconds=3600)
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [900, 1800, 3600, 3600, 3600]


def test_a_failed_publication_releases_the_claim_and_the_run_goes_on(world: World) -> None:
    world.call(sid(1), **finished(summary=None))
    world.call(sid(2), **finished(summary=None))
    world.publisher.fail_times = 1
    with pytest.raises(SweepIncompleteError, match="1 of 2"):
        world.sweeper().sweep()
    failed = next(s for s in (sid(1), sid(2)) if not world.events(s))
    assert (world.item(failed)["sweep_after"], world.item(failed)["sweep_attempts"]) == (ENDED, 0)
    assert world.metrics.values[names.FAILURES] == 1
    assert world.sweep()["redriven"] == 1  # the next run retries it at once
    assert len(world.events(failed)) == 1


def test_a_transcript_the_streamer_ends_meanwhile_is_not_finished_again(world: World) -> None:
    class EndsFirst(FakeSweeperCalls):
        def finish_stalled_transcript(
            self, call_sid: str, segment_count: int, error: str, stale_before: str
        ) -> bool:
            streamer = FakeStreamCalls(self.table)
            ended = streamer.transcript_finished(call_sid, "the-stream", TranscriptStatus.COMPLETED, 7, None)
            assert ended is TranscriptEnd.ENDED  # the streamer wins
            return super().finish_stalled_transcript(call_sid, segment_count, error, stale_before)

    world.calls = EndsFirst(FakeCallTable(now=clock.iso(NOW)))
    world.call(
        sid(1),
        transcript_status="in-progress",
        stream_owner="the-stream",
        stream_heartbeat_at=ENDED,  # long silent
        recording={
            "sid": RECORDING_SID,
            "status": "completed",
            "started_at": "Sun, 22 Nov 2026 09:44:02 +0000",
        },
    )
    report = world.sweep()
    assert report["transcriptsFinished"] == 0
    assert world.item(sid(1))["transcript_status"] == "completed"
    assert [e.detail_type for e in world.events()] == ["Recording Completed"]


def test_a_call_whose_marker_moved_since_the_query_is_skipped(world: World) -> None:
    class Lagging(FakeSweeperCalls):
        def calls_due_for_sweep(self, cutoff: str, limit: int) -> list[str]:
            due = super().calls_due_for_sweep(cutoff, limit)
            for call_sid in due:  # re-armed by another run after the (eventually consistent) index read
                self.items[call_sid]["sweep_after"] = RECENT
            return due

    world.calls = Lagging(FakeCallTable(now=clock.iso(NOW)))
    world.call(sid(1), **finished(summary=None))
    assert world.sweep()["skipped"] == 1
    assert world.events() == []


def test_a_run_stops_before_its_time_is_up_and_reports_the_backlog(world: World) -> None:
    for n in range(3):
        world.call(sid(n), **finished())
    left = iter([60.0, 10.0])
    report = world.sweeper().sweep(lambda: next(left)).as_dict()
    assert (report["settled"], report["stoppedEarly"]) == (1, True)
    assert world.metrics.values[names.BACKLOG] == 1

    bounded = World(
        world.calls, world.segments, world.publisher, Metrics(), world.clock, SweepPolicy(max_calls=1)
    )
    assert bounded.sweep()["due"] == 1


def test_metrics_count_what_the_run_did(world: World) -> None:
    world.call(sid(1), **finished())
    world.call(sid(2), **finished(summary=None))
    world.sweep()
    values = world.metrics.values
    assert values[names.CALLS_EXAMINED] == 2
    assert values[names.CALLS_SETTLED] == 1
    assert values[names.CALLS_REDRIVEN] == 1
    assert values[names.TRANSCRIPT_EVENTS] == 1
    assert values[names.RECORDING_EVENTS] == 0


def test_a_call_whose_terminal_callback_never_came_is_swept_a_day_after_it_started(world: World) -> None:
    """With no Twilio to ask, a call with no terminal status waits until Twilio's longest call (24 h)
    is over, untouched, then is swept as it is."""
    call_sid = sid(1)
    answered = "2026-11-21T09:00:00.000Z"
    advance(world.webhooks(), StatusChange(call_sid, CallStatus.IN_PROGRESS, answered))
    world.item(call_sid)["transcript_status"] = "in-progress"
    world.clock[0] = datetime(2026, 11, 21, 9, 20, tzinfo=UTC)  # still on the phone, maybe
    assert (world.sweep()["waiting"], world.item(call_sid)["sweep_after"]) == (1, "2026-11-22T09:00:00.000Z")
    assert world.item(call_sid)["transcript_status"] == "in-progress"
    world.clock[0] = datetime(2026, 11, 22, 9, 5, tzinfo=UTC)  # 24 h 5 min later: not yet (patience)
    assert world.sweep()["due"] == 0
    world.clock[0] = datetime(2026, 11, 22, 9, 11, tzinfo=UTC)
    assert world.sweep()["transcriptsFinished"] == 1
    assert world.item(call_sid)["status"] == "in-progress"  # the sweeper never invents a status
    assert world.events() == []  # the finishing write is the outbox's to announce
    assert [e.detail_type for e in world.announced(call_sid)] == ["Transcript Completed"]


def test_settings_default_to_the_contract_and_check_the_backoff() -> None:
    from functions.sweeper.settings import SweeperSettings
    from shared.errors import ConfigError

    names_env = {
        "CALLS_TABLE": "c",
        "TRANSCRIPTS_TABLE": "t",
        "EVENT_BUS_NAME": "b",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
    }
    config = SweeperSettings.from_env(names_env)
    assert (config.sweep_after_seconds, config.sweep_max_attempts) == (600, 5)
    assert (config.sweep_twilio_after_seconds, config.sweep_unended_after_seconds) == (3600, 86400)
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        SweeperSettings.from_env({k: v for k, v in names_env.items() if k != "TWILIO_AUTH_TOKEN"})
    with pytest.raises(ConfigError, match="SWEEP_UNENDED_AFTER_SECONDS"):
        SweeperSettings.from_env({**names_env, "SWEEP_UNENDED_AFTER_SECONDS": "600"})
    assert SweeperSettings.from_env({**names_env, "SWEEP_AFTER_SECONDS": "0"}).sweep_after_seconds == 0
    with pytest.raises(ConfigError, match="SWEEP_MAX_BACKOFF_SECONDS"):
        SweeperSettings.from_env(
            {**names_env, "SWEEP_BACKOFF_SECONDS": "600", "SWEEP_MAX_BACKOFF_SECONDS": "60"}
        )


def test_the_handler_module_loads_no_other_tier_or_vendor_sdk() -> None:
    """Its bundle holds only functions/sweeper, shared and five packages (infra/components/sweeper.py);
    twilio's client is imported on the first read of Twilio, not at cold start."""
    import subprocess
    import sys

    code = (
        "import sys, functions.sweeper.app; "
        "print(sorted({m.split('.')[0] if not m.startswith('functions.') else '.'.join(m.split('.')[:2]) "
        "for m in sys.modules}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for absent in (
        "twilio",
        "anthropic",
        "websockets",
        "functions.webhooks",
        "functions.summaries",
        "streamer",
    ):
        assert f"'{absent}'" not in loaded, absent


# ---- a stream still alive ------------------------------------------------------------------------
# The default staleness bound is 300 s: at NOW (10:00:00) a heartbeat at or after 09:55:00 is alive.
FRESH, STALE = "2026-11-22T09:58:30.000Z", "2026-11-22T09:54:59.999Z"


def streaming(heartbeat: str, **extra: Any) -> dict[str, Any]:
    """A call whose stream claimed it and last showed life at `heartbeat`."""
    return {
        "transcript_status": "in-progress",
        "stream_owner": "the-stream",
        "stream_sid": "MZ1",
        "stream_heartbeat_at": heartbeat,
        **extra,
    }


def test_a_transcript_whose_stream_is_alive_is_left_to_it(world: World) -> None:
    """Before: the sweeper finished it `incomplete` with what was stored so far and announced it,
    then the stream's own ending announced it a second time."""
    world.call(sid(1), **streaming(FRESH))
    world.segments.write_segments(live_segments(sid(1), 2))
    report = world.sweep()
    assert (report["waiting"], report["transcriptsFinished"], report["transcriptCompletedRepublished"]) == (
        1,
        0,
        0,
    )
    item = world.item(sid(1))
    assert (item["transcript_status"], "transcript_error" in item) == ("in-progress", False)
    assert world.events() == []
    assert item["sweep_after"] > ENDED  # looked at again after the backoff


def test_a_silent_stream_s_transcript_is_finished_and_the_owner_s_late_end_is_not_announced_again(
    world: World,
) -> None:
    world.call(sid(1), **streaming(STALE))
    world.segments.write_segments(live_segments(sid(1), 2))
    assert world.sweep()["transcriptsFinished"] == 1
    item = world.item(sid(1))
    assert (item["transcript_status"], item["transcript_swept_at"]) == ("incomplete", clock.iso(NOW))
    finished = [e for e in world.announced(sid(1)) if isinstance(e, TranscriptCompleted)]
    assert [e.transcript_status for e in finished] == ["incomplete"]  # the outbox's, of the sweep

    # the stream was not dead after all: it ends, and the record says how, without the sweeper's error
    streamer = FakeStreamCalls(world.calls.table)
    ended = streamer.transcript_finished(sid(1), "the-stream", TranscriptStatus.COMPLETED, 5, None)
    assert ended is TranscriptEnd.AFTER_SWEEP  # so the streamer does not announce it again
    item = world.item(sid(1))
    assert (item["transcript_status"], item["segment_count"], "transcript_error" in item) == (
        "completed",
        5,
        False,
    )
    # and the outbox does not either: the transcript had ended, and the summaries were told then
    finished = [e for e in world.announced(sid(1)) if isinstance(e, TranscriptCompleted)]
    assert [e.transcript_status for e in finished] == ["incomplete"]


def test_a_stream_that_beats_between_the_read_and_the_finish_keeps_its_transcript(world: World) -> None:
    class BeatsFirst(FakeSweeperCalls):
        def finish_stalled_transcript(
            self, call_sid: str, segment_count: int, error: str, stale_before: str
        ) -> bool:
            self.table.items[call_sid]["stream_heartbeat_at"] = clock.iso(NOW)  # its heartbeat lands
            return super().finish_stalled_transcript(call_sid, segment_count, error, stale_before)

    world.calls = BeatsFirst(FakeCallTable(now=clock.iso(NOW)))
    world.call(sid(1), **streaming(STALE))
    report = world.sweep()
    assert (report["redriven"], report["transcriptsFinished"]) == (1, 0)
    assert world.item(sid(1))["transcript_status"] == "in-progress"
    assert world.events() == []


def test_an_ended_transcript_whose_stream_just_beat_is_not_announced_twice(world: World) -> None:
    """The stream announced its own ending a moment ago; the summary is still being written."""
    world.call(sid(1), **streaming(FRESH, transcript_status="completed", segment_count=3))
    report = world.sweep()
    assert (report["waiting"], report["transcriptCompletedRepublished"]) == (1, 0)
    world.clock[0] = NOW + timedelta(hours=2)  # long after: the summary's event was lost after all
    assert world.sweep()["transcriptCompletedRepublished"] == 1


def test_a_recording_reconciled_before_the_stream_s_own_ending_is_reconciled_again(world: World) -> None:
    """The sweeper ended the transcript `incomplete`, the recording was reconciled against that, then
    the stream's own `completed` landed: the reconciliation (and so the summary) must follow it."""
    world.call(sid(1), **finished(reconciled_transcript_status="incomplete"))
    report = world.sweep()
    assert (report["redriven"], report["recordingCompletedRepublished"]) == (1, 1)
    assert [type(e) for e in world.events()] == [RecordingCompleted]
