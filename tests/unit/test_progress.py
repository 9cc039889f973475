"""The stages `callscribe call` prints after the call (`progress.StageTracker`): each once, as the record
reaches it, from records the API's own view makes (the stages of tests/unit/test_settlement.py)."""

from __future__ import annotations

from dataclasses import replace

from callscribe_local.progress import StageTracker, default_timeout
from callscribe_local.settlement import RECORDINGS
from tests.unit.test_settlement import ENDED, RECONCILED, RECORDED, REWRITTEN, RINGING, SUMMARISED, _json

RE = "RE" + "1" * 32


def test_each_stage_is_told_once_in_the_order_the_record_reaches_it() -> None:
    tracker = StageTracker()
    told = []
    for call in (RINGING, ENDED, ENDED, RECORDED, SUMMARISED, SUMMARISED, RECONCILED, REWRITTEN, REWRITTEN):
        told.extend(tracker.update(_json(call)))
    stages = [name for name, _ in told]
    assert stages == [
        "cost",  # the webhooks priced the call as it went
        "transcript", "cost",
        "recorded", "reconciling", "cost",
        "summary", "cost",
        "reconciled", "cost",
        "summary", "cost",
    ]  # fmt: skip
    details = dict(told[::-1])  # the first of each name
    assert details["transcript"] == "completed: 0 live segments"
    assert details["recorded"] == f"{RE} completed: 33 s, 2 channel(s)"
    assert details["reconciling"].startswith("transcribing the recording (33 s x 2 channel(s))")
    said = [detail for name, detail in told if name == "summary"]
    assert said == ["created (?)", "rewritten from the reconciled transcript (?)"]
    reconciled = next(detail for name, detail in told if name == "reconciled")
    assert (
        reconciled
        == "live+recording, live coverage 81%: 0 segment(s) added from the recording (outbound 10.5-14.7 s)"
    )
    final_cost = [detail for name, detail in told if name == "cost"][-1]
    assert "(voice, recording, live STT, recording STT, summary)" in final_cost


def test_nothing_added_a_delivery_that_gave_up_and_no_recording_are_said_plainly() -> None:
    tracker = StageTracker()
    tracker.update(_json(SUMMARISED))
    live = replace(RECONCILED, transcript_source="live", gaps=(), live_coverage=1)
    (reconciled,) = [detail for name, detail in tracker.update(_json(live)) if name == "reconciled"]
    assert reconciled == "live, live coverage 100%: the recording added nothing"

    given_up = StageTracker()
    told = given_up.update(_json(SUMMARISED), {RECORDINGS: "DeepgramUnavailableError: 503"})
    error = "DeepgramUnavailableError: 503"
    assert (
        "gave up",
        f"[red]the recordings Lambda gave up after its retries: {error}[/] (local DLQ)",
    ) in told
    assert given_up.update(_json(SUMMARISED), {RECORDINGS: "again"}) == []  # said once

    swept = replace(ENDED, recording_expected=False, transcript_source="live", gaps=())
    (line,) = [detail for name, detail in StageTracker().update(_json(swept)) if name == "reconciled"]
    assert line == "live only (no recording)"


def test_the_wait_grows_with_the_call() -> None:
    assert default_timeout(0) == 120
    assert default_timeout(600) == 420  # a 10-minute call: its recording is transcribed after it
