"""The sweeper asking Twilio about calls whose callbacks may have been lost, on the in-memory fakes:
when it asks, what it writes, what it leaves alone, and how its reads are bounded.

tests/integration/test_sweeper_twilio.py runs the same through the Lambda's handler on moto and the
Twilio stand-in (the real `twilio` client); these pin the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.sweeper.service import SweeperService, SweepPolicy
from functions.sweeper.twilio_check import TwilioCheck, TwilioPolicy
from functions.sweeper.twilio_rest import TwilioCall, TwilioRecording
from shared import clock
from shared.costs import Prices, record_cost
from shared.dal.records import CallParties, CallUpsert
from shared.status import CallStatus
from shared.status_changes import StatusChange, status_advance
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.sweep import FakeSweeperCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import announced
from tests.support.fake_publisher import FakePublisher
from tests.support.fake_segments import FakeSegments
from tests.support.fake_twilio import FakeTwilio

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RECORDING_SID = "RE" + "a" * 32


def sid(n: int) -> str:
    return "CA" + f"{n:032x}"


@dataclass
class World:
    calls: FakeSweeperCalls = field(
        default_factory=lambda: FakeSweeperCalls(FakeCallTable(now=clock.iso(NOW)))
    )
    twilio: FakeTwilio = field(default_factory=FakeTwilio)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    clock: list[datetime] = field(default_factory=lambda: [NOW])
    policy: TwilioPolicy = field(default_factory=TwilioPolicy)

    def sweep(self) -> dict[str, Any]:
        now = lambda: self.clock[0]  # noqa: E731
        check = TwilioCheck(self.policy, self.calls, self.twilio, now=now)
        service = SweeperService(
            SweepPolicy(after_seconds=600, backoff_seconds=900),
            self.calls,
            FakeSegments(),
            self.publisher,
            twilio=check,
            now=now,
            metric_sink=_NoMetrics(),
        )
        return service.sweep().as_dict()

    def webhooks(self) -> FakeWebhookCalls:
        return FakeWebhookCalls(self.calls.table)

    def answered(self, call_sid: str, minutes_ago: float, **attributes: Any) -> datetime:
        """A call that rang and was answered `minutes_ago`, whose later callbacks were lost."""
        started = self.clock[0] - timedelta(minutes=minutes_ago)
        hooks = self.webhooks()
        hooks.upsert_call(
            CallUpsert(call_sid, CallParties(direction="inbound"), clock.iso(started), route="forward")
        )
        hooks.advance_status(status_advance(StatusChange(call_sid, CallStatus.RINGING, clock.iso(started))))
        answered = started + timedelta(seconds=5)
        hooks.advance_status(
            status_advance(StatusChange(call_sid, CallStatus.IN_PROGRESS, clock.iso(answered)))
        )
        self.calls.items[call_sid].update(attributes)
        return started

    def item(self, call_sid: str) -> dict[str, Any]:
        return self.calls.items[call_sid]


class _NoMetrics:
    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        return None


@pytest.fixture
def world() -> World:
    return World()


def completed(call_sid: str, started: datetime, seconds: int, **extra: Any) -> TwilioCall:
    return TwilioCall(
        sid=call_sid,
        status="completed",
        direction="inbound",
        start_time=started + timedelta(seconds=5),
        end_time=started + timedelta(seconds=5 + seconds),
        duration_seconds=seconds,
        **extra,
    )


def test_a_call_whose_completed_callback_was_lost_ends_as_twilio_says_and_is_swept(world: World) -> None:
    started = world.answered(sid(1), minutes_ago=120)
    world.twilio.calls[sid(1)] = completed(sid(1), started, 3000, price="-0.42500", price_unit="USD")
    report = world.sweep()
    item = world.item(sid(1))
    assert (item["status"], item["duration_seconds"]) == ("completed", 3000)
    assert item["ended_at"] == clock.iso(started + timedelta(seconds=3005))
    assert item["answered_at"] == clock.iso(started + timedelta(seconds=5))  # the callback's, kept
    assert item["status_history"]["completed"] == item["ended_at"]
    assert item["cost"]["voice_minutes"] == 50  # priced as the webhooks price a terminal status
    assert (report["statusesFromTwilio"], report["twilioRequests"], report["settled"]) == (1, 1, 1)
    assert "sweep_after" not in item  # swept in the same run, from the record as it now is
    assert world.twilio.asked == [("call", sid(1))]  # its price came with the same read
    assert item["cost"]["billed"] == {
        "twilio_voice": 0.425,
        "total": 0.425,
        "price_unit": "USD",
        "read_at": clock.iso(NOW),
    }


def test_a_call_twilio_reports_in_progress_is_left_alone_and_asked_again_later(world: World) -> None:
    world.answered(sid(1), minutes_ago=90, transcript_status="in-progress")
    world.twilio.calls[sid(1)] = TwilioCall(sid=sid(1), status="in-progress")
    before = dict(world.item(sid(1)))
    assert world.sweep()["waiting"] == 1
    item = world.item(sid(1))
    assert item["sweep_after"] == clock.iso(NOW + timedelta(seconds=900))
    assert (item["twilio_asks"], item["twilio_asked_at"]) == (1, clock.iso(NOW))
    changed = {k for k in item if item.get(k) != before.get(k)}
    assert changed == {"sweep_after", "swept_at", "twilio_asks", "twilio_asked_at"}
    assert world.publisher.events == []

    assert world.sweep()["due"] == 0  # not before its backoff and patience
    world.clock[0] = NOW + timedelta(seconds=900 + 600)
    assert world.sweep()["waiting"] == 1
    assert world.item(sid(1))["twilio_asks"] == 2
    assert world.item(sid(1))["sweep_after"] == clock.iso(world.clock[0] + timedelta(seconds=1800))
    assert world.twilio.asked == [("call", sid(1))] * 2


def test_twilio_is_not_asked_before_a_normal_calls_callbacks_have_long_arrived(world: World) -> None:
    started = world.answered(sid(1), minutes_ago=20, transcript_status="in-progress")
    assert world.sweep()["waiting"] == 1
    assert world.twilio.asked == []
    assert world.item(sid(1))["sweep_after"] == clock.iso(started + timedelta(hours=1))
    assert world.item(sid(1))["transcript_status"] == "in-progress"


def test_a_call_past_twilios_longest_call_is_swept_as_it_is_without_asking(world: World) -> None:
    world.answered(sid(1), minutes_ago=25 * 60, transcript_status="in-progress")
    report = world.sweep()
    assert (report["transcriptsFinished"], report["twilioRequests"]) == (1, 0)
    assert world.item(sid(1))["status"] == "in-progress"  # the sweeper never invents a status


def test_a_call_whose_asks_are_spent_waits_for_the_longest_call(world: World) -> None:
    started = world.answered(sid(1), minutes_ago=120, twilio_asks=12)
    assert world.sweep()["waiting"] == 1
    assert world.twilio.asked == []
    assert world.item(sid(1))["sweep_after"] == clock.iso(started + timedelta(hours=24))


@pytest.mark.parametrize("status", [500, 404])
def test_a_failed_ask_changes_nothing_but_when_to_ask_again_and_is_counted(world: World, status: int) -> None:
    world.answered(sid(1), minutes_ago=120)
    world.twilio.fail_next(status)
    before = dict(world.item(sid(1)))
    report = world.sweep()
    assert (report["twilioFailures"], report["twilioRequests"], report["waiting"]) == (1, 1, 1)
    item = world.item(sid(1))
    assert {k for k in item if item.get(k) != before.get(k)} == {
        "sweep_after",
        "swept_at",
        "twilio_asks",
        "twilio_asked_at",
    }
    assert item["status"] == "in-progress"


@pytest.mark.parametrize("status", [429, 401])
def test_a_rate_limit_or_refused_credentials_end_the_runs_asks(world: World, status: int) -> None:
    world.answered(sid(1), minutes_ago=130)
    world.answered(sid(2), minutes_ago=120)
    before = dict(world.item(sid(2)))
    world.twilio.fail_next(status)
    report = world.sweep()
    assert (report["twilioRequests"], report["twilioFailures"], report["waiting"]) == (1, 1, 2)
    assert world.twilio.asked == [("call", sid(1))]
    assert world.item(sid(2)) == before  # not asked this run: untouched, asked on the next


def test_the_runs_requests_are_bounded(world: World) -> None:
    world.policy = TwilioPolicy(max_requests=1)
    for n in (1, 2):
        started = world.answered(sid(n), minutes_ago=120 + n)
        world.twilio.calls[sid(n)] = completed(sid(n), started, 60)
    report = world.sweep()
    assert (report["twilioRequests"], report["statusesFromTwilio"]) == (1, 1)
    assert world.item(sid(2))["status"] == "completed"  # the longest waiting first
    assert world.item(sid(1))["status"] == "in-progress"


def test_a_recording_whose_callback_was_lost_is_stored_and_reconciled(world: World) -> None:
    started = world.answered(sid(1), minutes_ago=120, recording_expected=True)
    world.twilio.calls[sid(1)] = completed(sid(1), started, 300)
    world.twilio.recordings[sid(1)] = [
        TwilioRecording(
            sid=RECORDING_SID,
            url=f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{RECORDING_SID}",
            status="completed",
            start_time=started + timedelta(seconds=7),
            duration_seconds=298,
            channels=2,
            source="DialVerb",
            track="both",
        )
    ]
    report = world.sweep()
    recording = world.item(sid(1))["recording"]
    assert (recording["sid"], recording["status"], recording["duration_seconds"]) == (
        RECORDING_SID,
        "completed",
        298,
    )
    assert recording["started_at"] == "Sun, 22 Nov 2026 10:00:07 +0000"
    assert (report["statusesFromTwilio"], report["recordingsFromTwilio"]) == (1, 1)
    assert world.twilio.asked == [("call", sid(1)), ("recordings", sid(1))]
    # its writes are announced by the outbox, the recording once: the sweeper publishes nothing
    # itself this run (that would reconcile the recording twice at once) and looks again later
    assert [e.detail_type for e in announced(world.calls.table, sid(1))] == [
        "Call Completed",
        "Recording Completed",
    ]
    assert world.publisher.events == []
    assert (report["waiting"], world.item(sid(1))["sweep_after"] > clock.iso(NOW)) == (1, True)


def test_a_recording_from_twilio_never_reconciled_is_redriven_on_the_next_look(world: World) -> None:
    """The outbox announced the recording the sweeper wrote, but the recordings tier gave up on it:
    the sweeper's next look finds it still unreconciled and re-drives it, as any other."""
    started = world.answered(sid(1), minutes_ago=120, recording_expected=True)
    world.twilio.calls[sid(1)] = completed(sid(1), started, 300)
    world.twilio.recordings[sid(1)] = [
        TwilioRecording(
            sid=RECORDING_SID,
            url=f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{RECORDING_SID}",
            status="completed",
            duration_seconds=298,
            channels=2,
        )
    ]
    world.sweep()
    world.clock[0] = NOW + timedelta(hours=1)  # past the backoff: the call is due again
    report = world.sweep()
    assert [e.detail_type for e in world.publisher.events] == ["Recording Completed"]
    assert report["recordingCompletedRepublished"] == 1


def test_a_leg_that_ended_unheard_is_listed_on_its_parent(world: World) -> None:
    parent = world.answered(sid(1), minutes_ago=121)
    world.webhooks().advance_status(
        status_advance(StatusChange(sid(1), CallStatus.COMPLETED, clock.iso(parent + timedelta(minutes=2))))
    )
    world.twilio.calls[sid(1)] = completed(sid(1), parent, 115)
    started = world.answered(sid(2), minutes_ago=120)
    world.twilio.calls[sid(2)] = completed(sid(2), started, 60, parent_call_sid=sid(1))
    world.sweep()
    assert world.item(sid(1))["leg_call_sids"] == {sid(2)}
    assert world.item(sid(2))["status"] == "completed"


# ---- Twilio's bill --------------------------------------------------------------------------------


def ended_call(world: World, call_sid: str, minutes_ago: float = 30, **attributes: Any) -> datetime:
    """An answered call whose callbacks all arrived; it ended `minutes_ago`, lasting 61 s."""
    started = world.answered(call_sid, minutes_ago=minutes_ago + 2, **attributes)
    ended = started + timedelta(seconds=66)
    world.webhooks().advance_status(
        status_advance(StatusChange(call_sid, CallStatus.COMPLETED, clock.iso(ended), duration_seconds=61))
    )
    return started


def recording(price: str | None, sid_char: str = "a", status: str = "completed") -> TwilioRecording:
    return TwilioRecording(
        sid="RE" + sid_char * 32, url="u", status=status, duration_seconds=59, price=price, price_unit="USD"
    )


def test_a_settled_call_waits_in_the_index_until_twilio_prices_it(world: World) -> None:
    started = ended_call(world, sid(1))
    world.twilio.calls[sid(1)] = completed(sid(1), started, 61, price=None, price_unit="USD")
    first = world.sweep()
    item = world.item(sid(1))
    assert (first["settled"], first["waiting"], first["pricesFromTwilio"]) == (0, 1, 0)
    assert "cost" not in item  # no bill (and here no estimate either) until Twilio says
    assert (item["twilio_asks"], item["sweep_after"]) == (1, clock.iso(NOW + timedelta(seconds=900)))

    world.clock[0] = NOW + timedelta(seconds=900 + 600)
    world.twilio.calls[sid(1)] = completed(sid(1), started, 61, price="-0.01700", price_unit="USD")
    second = world.sweep()
    item = world.item(sid(1))
    assert (second["settled"], second["pricesFromTwilio"]) == (1, 1)
    assert item["cost"]["billed"] == {
        "twilio_voice": 0.017,
        "total": 0.017,
        "price_unit": "USD",
        "read_at": clock.iso(world.clock[0]),
    }
    assert item["cost"]["twilio_voice_usd"] == 0.017  # the estimate stays beside it: 2 min at 0.0085
    assert "sweep_after" not in item


def test_a_recorded_call_is_billed_for_its_recordings_too(world: World) -> None:
    started = ended_call(world, sid(1), recording_expected=True, reconciled_at="2026-11-22T11:31:00.000Z")
    world.item(sid(1))["recording"] = {"sid": "RE" + "a" * 32, "status": "completed", "duration_seconds": 59}
    world.twilio.calls[sid(1)] = completed(sid(1), started, 61, price="-0.0170", price_unit="USD")
    world.twilio.recordings[sid(1)] = [recording(None)]
    world.sweep()
    assert world.item(sid(1))["cost"]["billed"] == {  # the call is priced, its recording not yet
        "twilio_voice": 0.017,
        "price_unit": "USD",
        "read_at": clock.iso(NOW),
    }
    world.clock[0] = NOW + timedelta(seconds=1500)
    world.twilio.recordings[sid(1)] = [recording("-0.00250")]
    world.sweep()
    billed = world.item(sid(1))["cost"]["billed"]
    assert (billed["twilio_voice"], billed["twilio_recording"], billed["total"]) == (0.017, 0.0025, 0.0195)
    assert world.twilio.asked == [("call", sid(1)), ("recordings", sid(1))] * 2


def test_a_recording_twilio_no_longer_lists_leaves_the_bill_without_a_total(world: World) -> None:
    """DELETE_TWILIO_RECORDINGS: our copy is kept, Twilio's deleted, and with it the price we could read."""
    started = ended_call(world, sid(1), recording_expected=True, reconciled_at="2026-11-22T11:31:00.000Z")
    world.item(sid(1))["recording"] = {"sid": "RE" + "a" * 32, "status": "completed", "duration_seconds": 59}
    world.twilio.calls[sid(1)] = completed(sid(1), started, 61, price="-0.0170", price_unit="USD")
    assert world.sweep()["waiting"] == 1
    assert "total" not in world.item(sid(1))["cost"]["billed"]


def test_no_price_is_asked_for_an_unanswered_call_or_after_the_window(world: World) -> None:
    started = world.answered(sid(1), minutes_ago=40)
    world.webhooks().advance_status(
        status_advance(StatusChange(sid(1), CallStatus.NO_ANSWER, clock.iso(started + timedelta(seconds=30))))
    )
    ended_call(world, sid(2), minutes_ago=25 * 60)
    report = world.sweep()
    assert (report["settled"], report["twilioRequests"]) == (2, 0)
    assert world.twilio.asked == []


def test_an_estimate_recomputed_later_keeps_twilios_bill(world: World) -> None:
    started = ended_call(world, sid(1))
    world.twilio.calls[sid(1)] = completed(sid(1), started, 61, price="-0.01700", price_unit="USD")
    world.sweep()
    world.item(sid(1))["summary"] = {"summary": "x", "estimated_cost_usd": 0.003}  # a late summary
    stored = record_cost(world.calls, sid(1), Prices())  # as the summaries tier recomputes it
    assert stored is not None
    assert stored["claude_usd"] == 0.003
    assert stored["billed"]["total"] == 0.017
    assert world.item(sid(1))["cost"]["billed"] == stored["billed"]
