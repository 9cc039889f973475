"""Which call record changes the live feed announces, with what, and where."""

from __future__ import annotations

import json
from dataclasses import replace

from functions.call_feed.changes import call_update
from shared.dal.records import Call

SID = "CA" + "1" * 32
PARENT = "CA" + "2" * 32
RINGING = Call(
    call_sid=SID, status="ringing", status_rank=2, direction="inbound", started_at="T0", to_number="+1"
)


def test_a_new_record_is_announced_on_the_board_and_its_channel() -> None:
    update = call_update(None, RINGING)
    assert update is not None
    assert update.channels() == ("/calls/live", f"/calls/{SID}")
    message = json.loads(update.event(at="T"))
    assert message == {
        "type": "call", "callSid": SID, "status": "ringing", "startedAt": "T0", "direction": "inbound",
        "to": "+1", "summaryReady": False, "reconciled": False, "at": "T",
    }  # fmt: skip


def test_only_what_the_feed_shows_is_announced() -> None:
    assert call_update(RINGING, replace(RINGING, cost={"total_usd": 0.1}, updated_at="T9")) is None
    for change in (
        {"status": "completed", "status_rank": 4},
        {"transcript_status": "completed"},
        {"ended_at": "T5"},
        {"reconciled_at": "T6"},
        {"summary_created_at": "T7", "summary": {"summary": "x"}},
    ):
        assert call_update(RINGING, replace(RINGING, **change)) is not None, change  # type: ignore[arg-type]


def test_the_message_is_the_record_as_it_now_is() -> None:
    done = replace(RINGING, status="completed", ended_at="T5", duration_seconds=42, summary={"a": 1},
                   summary_created_at="T7", reconciled_at="T6")  # fmt: skip
    update = call_update(RINGING, done)
    assert update is not None
    message = json.loads(update.event())
    assert (message["status"], message["endedAt"], message["durationSeconds"]) == ("completed", "T5", 42)
    assert (message["summaryReady"], message["reconciled"]) == (True, True)


def test_a_removed_record_or_a_bare_key_is_not_announced() -> None:
    assert call_update(RINGING, None) is None
    assert call_update(None, Call(call_sid=SID)) is None
    appeared = call_update(Call(call_sid=SID), Call(call_sid=SID, started_at="T0", route="forward"))
    assert appeared is not None  # its start written: the call exists for the board
    assert json.loads(appeared.event())["startedAt"] == "T0"


def test_a_leg_goes_to_its_parents_channel_only() -> None:
    leg = replace(RINGING, parent_call_sid=PARENT, direction="outbound-dial")
    update = call_update(None, leg)
    assert update is not None
    assert update.channels() == (f"/calls/{PARENT}",)
    assert json.loads(update.event())["parentCallSid"] == PARENT


class FakeFeed:
    def __init__(self) -> None:
        self.sent: list[tuple[tuple[str, ...], dict[str, object]]] = []

    def publish_all(self, channels: tuple[str, ...], event: str) -> None:
        self.sent.append((tuple(channels), json.loads(event)))

    def wait_idle(self, timeout: float) -> bool:
        return True


def record(new: dict[str, object], old: dict[str, object] | None = None) -> dict[str, object]:
    change: dict[str, object] = {"Keys": {"call_sid": new["call_sid"]}, "NewImage": new}
    if old is not None:
        change["OldImage"] = old
    return {"eventID": "e1", "eventName": "MODIFY" if old else "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": change}  # fmt: skip


def test_the_handler_skips_a_record_it_cannot_read_and_goes_on() -> None:
    from callscribe_local.apigw import LocalLambdaContext
    from functions.call_feed.app import Tally, create_handler

    feed = FakeFeed()
    handler = create_handler(lambda: (feed, Tally()))  # type: ignore[arg-type, return-value]
    bad = {"call_sid": {"S": SID}, "started_at": {"S": "T0"}, "duration_seconds": {"S": "not a number"}}
    good = {"call_sid": {"S": PARENT}, "started_at": {"S": "T0"}, "status": {"S": "ringing"}}
    result = handler({"Records": [record(bad), record(good)]}, LocalLambdaContext())
    assert result == {"updates": 1}
    assert [(channels, event["callSid"]) for channels, event in feed.sent] == [
        (("/calls/live", f"/calls/{PARENT}"), PARENT)
    ]
