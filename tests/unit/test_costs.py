"""Cost per call (shared/costs.py): hand-computed prices of the call shapes the product makes, the
price table's configuration, and a stored cost that converges whatever order its writers run in."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from shared.costs import PRICES_AS_OF, CostSettings, Prices, call_cost, record_cost, same_bill, twilio_billed
from shared.dal.records import (
    Call,
    CostBasis,
    Gap,
    ReconciliationUpdate,
    RecordingUpdate,
    StatusAdvance,
    StreamUsage,
)
from shared.errors import ConfigError, StoreError
from shared.settings import EnvSettings
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.cost import FakeCostWrites
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.summaries import FakeSummaryCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls

SID = "CA" + "a" * 32
PRICES = Prices()  # the dated defaults: inbound 0.0085, outbound 0.014, recording 0.0025 a minute,
# Deepgram live 0.0077 a track-minute, pre-recorded 0.0043 a channel-minute, TTS 0.030 per 1,000 chars


def _call(**values: Any) -> Call:
    return Call.from_item({"call_sid": SID, **values})


def test_an_answered_inbound_call_with_recording_and_summary() -> None:
    call = _call(
        direction="inbound",
        status="completed",
        duration_seconds=125,  # 3 started minutes
        recording={"sid": "RE1", "status": "completed", "duration_seconds": 118, "channels": 2},
        alignment={"offset_seconds": 2.37, "method": "words", "matches": 12},  # reconciled
        live_audio_seconds=240.0,  # both tracks, 120 s each
        summary={"model": "claude-haiku-5-5", "estimated_cost_usd": 0.00123456},
    )
    assert call_cost(call, PRICES, estimated_at="2026-11-26T10:00:00.000Z") == {
        "total_usd": 0.079448,  # 0.0255 + 0.005 + 0.016913 + 0.0308 + 0.001235
        "voice_minutes": 3,
        "twilio_voice_usd": 0.0255,  # 3 x 0.0085
        "recording_minutes": 2,
        "twilio_recording_usd": 0.005,  # 2 x 0.0025
        "prerecorded_minutes": 3.9333,  # 118 s x 2 channels
        "deepgram_prerecorded_usd": 0.016913,  # 3.93333 x 0.0043
        "live_track_minutes": 4.0,
        "deepgram_live_usd": 0.0308,  # 4 x 0.0077
        "claude_usd": 0.001235,
        "prices_as_of": PRICES_AS_OF,
        "estimated_at": "2026-11-26T10:00:00.000Z",
    }


def test_a_forwarded_calls_dialled_leg_is_its_own_outbound_leg() -> None:
    """The child leg a <Dial> makes has its own record: outbound minutes only, nothing streamed on it."""
    leg = _call(
        direction="outbound-dial", parent_call_sid="CA" + "b" * 32, status="completed", duration_seconds=61
    )
    assert call_cost(leg, PRICES) == {
        "total_usd": 0.028,  # 2 started minutes x 0.014
        "voice_minutes": 2,
        "twilio_voice_usd": 0.028,
        "prices_as_of": PRICES_AS_OF,
    }


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_an_unanswered_call_costs_nothing(status: str) -> None:
    call = _call(direction="outbound-api", status=status, duration_seconds=0)
    assert call_cost(call, PRICES) == {
        "total_usd": 0.0,
        "voice_minutes": 0,
        "twilio_voice_usd": 0.0,
        "prices_as_of": PRICES_AS_OF,
    }


def test_an_agent_call_pays_for_the_characters_it_spoke() -> None:
    call = _call(
        direction="inbound",
        status="completed",
        duration_seconds=45,
        live_audio_seconds=90,
        tts_characters=1234,
        summary={"model": "none", "estimated_cost_usd": 0.0},
    )
    cost = call_cost(call, PRICES)
    assert cost["tts_usd"] == 0.03702  # 1.234 x 0.030
    assert cost["deepgram_live_usd"] == 0.01155  # 1.5 track-minutes x 0.0077
    assert cost["twilio_voice_usd"] == 0.0085
    assert cost["claude_usd"] == 0.0
    assert cost["total_usd"] == 0.05707
    assert "twilio_recording_usd" not in cost
    assert "deepgram_prerecorded_usd" not in cost


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(0, 0), (1, 1), (59, 1), (60, 1), (61, 2), (3600, 60), (3601, 61)]
)
def test_legs_and_recordings_are_billed_per_started_minute(seconds: int, minutes: int) -> None:
    call = _call(
        direction="inbound",
        status="completed",
        duration_seconds=seconds,
        recording={"sid": "RE1", "status": "completed", "duration_seconds": seconds, "channels": 1},
    )
    cost = call_cost(call, PRICES)
    assert (cost["voice_minutes"], cost["recording_minutes"]) == (minutes, minutes)
    assert cost["twilio_voice_usd"] == round(minutes * 0.0085, 6)


def test_what_is_not_known_yet_is_left_out() -> None:
    """A call still in progress has no billed minutes; a recording not completed or not yet
    transcribed adds nothing of its own."""
    call = _call(
        direction="inbound",
        status="in-progress",
        recording={"sid": "RE1", "status": "in-progress"},
    )
    assert call_cost(call, PRICES) == {"total_usd": 0.0, "prices_as_of": PRICES_AS_OF}
    recorded = _call(recording={"sid": "RE1", "status": "completed", "duration_seconds": 30, "channels": 2})
    assert "deepgram_prerecorded_usd" not in call_cost(recorded, PRICES)


def test_overrides_replace_only_what_they_name_and_mark_the_table() -> None:
    prices = Prices.parse('{"twilio_inbound_per_minute": 0.01}')
    assert prices.twilio_inbound_per_minute == 0.01
    assert prices.twilio_outbound_per_minute == Prices().twilio_outbound_per_minute
    assert prices.as_of == f"{PRICES_AS_OF}+custom"  # not the dated table any more
    dated = Prices.parse({"deepgram_live_per_minute": 0.0059, "as_of": "2027-01-01"})
    assert (dated.deepgram_live_per_minute, dated.as_of) == (0.0059, "2027-01-01")


class _CostEnv(EnvSettings):
    costs: CostSettings


def test_call_prices_is_read_from_the_environment_and_unknown_names_are_refused() -> None:
    assert _CostEnv.from_env({}).costs.call_prices == Prices()
    read = _CostEnv.from_env({"CALL_PRICES": '{"deepgram_tts_per_1k_characters": 0.015, "as_of": "x"}'})
    assert read.costs.call_prices.deepgram_tts_per_1k_characters == 0.015
    with pytest.raises(ConfigError, match=r"CALL_PRICES: .*unknown price 'twilio_inbound'; known: as_of, "):
        _CostEnv.from_env({"CALL_PRICES": '{"twilio_inbound": 0.01}'})
    with pytest.raises(
        ConfigError, match=r"CALL_PRICES: .*twilio_recording_per_minute: Input should be greater"
    ):
        _CostEnv.from_env({"CALL_PRICES": '{"twilio_recording_per_minute": -1}'})
    with pytest.raises(ConfigError, match=r"CALL_PRICES: .*must be a JSON object"):
        _CostEnv.from_env({"CALL_PRICES": "[0.01]"})


# ---- storing it ---------------------------------------------------------------------------------

STAMP = "2026-11-26T10:00:00.000Z"
OWNER = "the-stream"  # the stream that claimed the call (its usage is written only by it)


def _writes(table: FakeCallTable) -> dict[str, Callable[[], object]]:
    """Each writer's own write, as the tiers make them (any order is possible)."""
    webhooks, recordings = FakeWebhookCalls(table), FakeRecordingCalls(table)
    stream, summaries = FakeStreamCalls(table), FakeSummaryCalls(table)
    return {
        "terminal status": lambda: webhooks.advance_status(
            StatusAdvance(
                call_sid=SID, status="completed", rank=4, at=STAMP, ended_at=STAMP, duration_seconds=95
            )
        ),
        "recording": lambda: (
            webhooks.update_recording(
                RecordingUpdate(call_sid=SID, sid="RE1", status="completed", duration_seconds=92, channels=2)
            ),
            recordings.save_reconciliation(
                ReconciliationUpdate(
                    call_sid=SID,
                    transcript_source="live",
                    segment_count=2,
                    live_coverage=1.0,
                    gaps=(Gap("inbound", 1.0, 2.0),),
                    filled_seconds=0.0,
                    transcript_version="v1",
                    alignment_offset=2.37,
                    alignment_method="words",
                    alignment_matches=9,
                    transcript_status="completed",
                )
            ),
        ),
        "stream usage": lambda: stream.record_stream_usage(
            StreamUsage(call_sid=SID, live_audio_seconds=188.5, tts_characters=None), OWNER
        ),
        "summary": lambda: summaries.save_summary(SID, {"model": "m", "estimated_cost_usd": 0.0021}, STAMP),
    }


def _new_store() -> FakeCostWrites:
    store = FakeCostWrites()
    store.items[SID] = {
        "call_sid": SID,
        "direction": "inbound",
        "status": "in-progress",
        "status_rank": 3,
        "stream_owner": OWNER,
    }
    return store


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["terminal status", "recording", "stream usage", "summary"]))
)
def test_the_stored_cost_is_the_final_records_whatever_order_the_writers_run_in(
    order: tuple[str, ...],
) -> None:
    """Each writer recomputes after its own write (the streamer's usage is costed by the next writer:
    the summary always follows it); the last cost stored is the one of the final record."""
    store = _new_store()
    writes = _writes(store.table)
    for name in order:
        writes[name]()
        if name != "stream usage":
            record_cost(store, SID, PRICES, now=lambda: STAMP)
    final = store.get(SID)
    assert final is not None
    assert final.cost is not None
    if order[-1] == "stream usage":  # nobody has costed it yet: the summaries tier will
        record_cost(store, SID, PRICES, now=lambda: STAMP)
        final = store.get(SID)
        assert final is not None
    assert final.cost == call_cost(final, PRICES, estimated_at=STAMP)
    # 2 min x 0.0085 + 2 min x 0.0025 + (92 s x 2 channels) x 0.0043 + 188.5 track-s x 0.0077 + 0.0021
    assert final.cost["total_usd"] == 0.061478


class _RacingStore(FakeCostWrites):
    """Another writer lands between this writer's read and its cost write, `times` times."""

    def __init__(self, interleave: Callable[[FakeCallTable], object], times: int = 1) -> None:
        super().__init__()
        self._interleave = interleave
        self._times = times
        self.refused = 0

    def save_cost(self, call_sid: str, cost: Any, basis: CostBasis) -> bool:
        if self._times > 0:
            self._times -= 1
            self._interleave(self.table)
        stored = super().save_cost(call_sid, cost, basis)
        self.refused += not stored
        return stored


def test_a_cost_computed_from_an_overtaken_read_is_refused_and_redone() -> None:
    store = _RacingStore(
        lambda table: FakeStreamCalls(table).record_stream_usage(
            StreamUsage(call_sid=SID, live_audio_seconds=60.0, tts_characters=40), OWNER
        )
    )
    store.items[SID] = {
        "call_sid": SID,
        "direction": "inbound",
        "status": "completed",
        "duration_seconds": 30,
        "stream_owner": OWNER,
    }
    cost = record_cost(store, SID, PRICES, now=lambda: STAMP)
    assert store.refused == 1
    final = store.get(SID)
    assert final is not None
    assert cost == final.cost == call_cost(final, PRICES, estimated_at=STAMP)
    assert final.cost["deepgram_live_usd"] == 0.0077
    assert final.cost["tts_usd"] == 0.0012


def test_a_record_that_keeps_changing_is_left_to_the_next_writer() -> None:
    counter = itertools.count(1)
    store = _RacingStore(
        lambda table: FakeStreamCalls(table).record_stream_usage(
            StreamUsage(call_sid=SID, live_audio_seconds=float(next(counter))), OWNER
        ),
        times=10,
    )
    store.items[SID] = {"call_sid": SID, "stream_owner": OWNER}
    errors: list[str] = []
    assert record_cost(store, SID, PRICES, attempts=3, on_error=errors.append) is None
    assert store.refused == 3
    assert errors == [f"cost of {SID} not stored: its record kept changing (3 attempts)"]
    assert "cost" not in store.items[SID]


def test_nothing_is_written_for_an_unknown_call_or_an_unchanged_cost() -> None:
    store = FakeCostWrites()
    assert record_cost(store, SID, PRICES) is None
    assert store.items == {}
    store.items[SID] = {"call_sid": SID, "direction": "inbound", "status": "busy"}
    first = record_cost(store, SID, PRICES, now=lambda: STAMP)
    writes = store.writes
    assert record_cost(store, SID, PRICES, now=lambda: "2026-11-27T00:00:00.000Z") == first  # a repeat
    assert store.writes == writes


def test_a_table_failure_is_reported_not_raised() -> None:
    class Failing(FakeCostWrites):
        def get(self, call_sid: str) -> Call | None:
            raise StoreError("reading call failed: throttled")

    errors: list[str] = []
    assert record_cost(Failing(), SID, PRICES, on_error=errors.append) is None
    assert errors == [f"cost of {SID} not stored: reading call failed: throttled"]


# ---- Twilio's bill ---------------------------------------------------------------------------------

READ = "2026-11-22T10:40:00.000Z"


def test_twilios_negative_prices_are_stored_as_positive_charges() -> None:
    assert twilio_billed("-0.01700", "USD", None, READ) == {
        "twilio_voice": 0.017,
        "total": 0.017,
        "price_unit": "USD",
        "read_at": READ,
    }
    billed = twilio_billed("-0.0170", "USD", [("-0.00250", "USD"), ("-0.0025", None)], READ)
    assert billed is not None
    assert (billed["twilio_voice"], billed["twilio_recording"], billed["total"]) == (0.017, 0.005, 0.022)
    assert twilio_billed("-0.01", "USD", [], READ) == {  # nothing recorded: nothing else billed
        "twilio_voice": 0.01,
        "total": 0.01,
        "price_unit": "USD",
        "read_at": READ,
    }


@pytest.mark.parametrize(
    "recordings",
    [[("-0.0025", "USD"), (None, "USD")], [("-0.0025", "EUR")], [("not a price", "USD")]],
)
def test_a_bill_with_a_part_not_known_in_the_calls_unit_has_no_total(
    recordings: list[tuple[str | None, str | None]],
) -> None:
    billed = twilio_billed("-0.0170", "USD", recordings, READ)
    assert billed == {"twilio_voice": 0.017, "price_unit": "USD", "read_at": READ}


@pytest.mark.parametrize("price", [None, "", "NaN", "Infinity", "priced later"])
def test_no_bill_until_twilio_priced_the_call(price: str | None) -> None:
    assert twilio_billed(price, "USD", [("-0.0025", "USD")], READ) is None


def test_the_bill_rides_beside_the_estimate_and_every_recomputation_keeps_it() -> None:
    billed = {"twilio_voice": 0.0085, "total": 0.0085, "price_unit": "USD", "read_at": READ}
    call = _call(direction="inbound", status="completed", duration_seconds=61, cost={"billed": billed})
    cost = call_cost(call, PRICES)
    assert cost["billed"] == billed  # carried as read
    assert cost["total_usd"] == cost["twilio_voice_usd"] == 0.017  # the estimate, not the bill
    assert "billed" not in call_cost(
        _call(direction="inbound", status="completed", duration_seconds=61), PRICES
    )
    again = {**billed, "twilio_voice": 0.009, "total": 0.009, "read_at": "later"}
    assert call_cost(call, PRICES, billed=again)["billed"] == again
    assert same_bill(billed, {**billed, "read_at": "later"})
    assert not same_bill(billed, again)
    assert not same_bill(None, billed)


def test_a_bill_is_stored_in_the_costs_own_conditional_write() -> None:
    calls = FakeWebhookCalls()
    calls.items[SID] = {
        "call_sid": SID,
        "direction": "inbound",
        "status": "completed",
        "duration_seconds": 61,
    }
    billed = {"twilio_voice": 0.0085, "total": 0.0085, "price_unit": "USD", "read_at": READ}
    stored = record_cost(calls, SID, PRICES, billed=billed, now=lambda: READ)
    assert stored is not None
    assert calls.items[SID]["cost"]["billed"] == billed
    stale = Call.from_item({**calls.items[SID], "cost": {}})  # a read from before the bill
    assert not calls.save_cost(SID, call_cost(stale, PRICES), CostBasis.of(stale))
    assert calls.items[SID]["cost"]["billed"] == billed
