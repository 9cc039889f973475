"""What Twilio's REST answers mean for the record: read from real-shaped resources
(tests/fixtures/twilio/) through the `twilio` library's own instances, then `twilio_view`'s rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twilio.rest import Client
from twilio.rest.api.v2010.account.call import CallInstance
from twilio.rest.api.v2010.account.call.recording import RecordingInstance

from functions.sweeper.twilio_rest import TwilioCall, TwilioRecording, call_of, recording_of
from functions.sweeper.twilio_view import missing_recording, status_changes
from shared.dal.records import Call, Recording
from shared.status import CallStatus

FIXTURES = Path(__file__).parents[2] / "fixtures" / "twilio"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ACCOUNT = "AC" + "a" * 32


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def version() -> Any:
    return Client(ACCOUNT, "token").api.v2010


def twilio_call() -> TwilioCall:
    return call_of(CallInstance(version(), fixture("call_resource_completed.json"), ACCOUNT))


def twilio_recordings() -> list[TwilioRecording]:
    page = fixture("call_recordings_page.json")
    return [
        recording_of(
            RecordingInstance(version(), item, ACCOUNT, item["call_sid"]), f"https://media/{item['sid']}"
        )
        for item in page["recordings"]
    ]


def test_the_call_resource_is_read_as_twilio_wrote_it() -> None:
    call = twilio_call()
    assert call == TwilioCall(
        sid="CA" + "a" * 32,
        status="completed",
        direction="outbound-api",
        parent_call_sid="CAdeadbeefdeadbeefdeadbeefdeadbeef",
        start_time=datetime(2019, 10, 18, 17, 2, tzinfo=UTC),
        end_time=datetime(2019, 10, 18, 17, 3, tzinfo=UTC),
        date_updated=datetime(2019, 10, 18, 17, 1, tzinfo=UTC),
        duration_seconds=4,
        answered_by="machine_start",
        price="-0.200",
        price_unit="USD",
    )


def test_a_completed_call_the_record_saw_answered_ends_with_its_duration_and_end() -> None:
    record = Call(call_sid="CA" + "a" * 32, status="in-progress", status_rank=3, answered_at="x")
    (change,) = status_changes(record, twilio_call(), NOW)
    assert (change.status, change.at, change.duration_seconds) == (
        CallStatus.COMPLETED,
        "2019-10-18T17:03:00.000Z",
        4,
    )
    assert change.answered_by == "machine_start"
    assert change.parties is not None
    assert (change.parties.direction, change.parties.parent_call_sid) == (
        "outbound-api",
        "CAdeadbeefdeadbeefdeadbeefdeadbeef",
    )


def test_a_completed_call_the_record_never_saw_answered_is_answered_at_its_start_first() -> None:
    record = Call(call_sid="CA" + "a" * 32, status="ringing", status_rank=2)
    answered, ended = status_changes(record, twilio_call(), NOW)
    assert (answered.status, answered.at) == (CallStatus.IN_PROGRESS, "2019-10-18T17:02:00.000Z")
    assert (ended.status, ended.at) == (CallStatus.COMPLETED, "2019-10-18T17:03:00.000Z")


def test_nothing_when_twilio_is_not_ahead_of_the_record() -> None:
    ended = Call(call_sid="CA" + "a" * 32, status="completed", status_rank=4)
    assert status_changes(ended, twilio_call(), NOW) == []
    unknown = TwilioCall(sid="CA" + "a" * 32, status="transferred")
    assert status_changes(Call(call_sid="CA" + "a" * 32, status_rank=1), unknown, NOW) == []


def test_an_unanswered_end_without_an_end_time_is_its_last_update() -> None:
    busy = TwilioCall(
        sid="CA" + "b" * 32, status="busy", date_updated=datetime(2026, 11, 22, 9, 1, tzinfo=UTC)
    )
    (change,) = status_changes(Call(call_sid="CA" + "b" * 32, status_rank=2), busy, NOW)
    assert (change.status, change.at, change.duration_seconds) == (
        CallStatus.BUSY,
        "2026-11-22T09:01:00.000Z",
        None,
    )
    still = TwilioCall(sid="CA" + "b" * 32, status="in-progress")
    (change,) = status_changes(Call(call_sid="CA" + "b" * 32, status_rank=2), still, NOW)
    assert (change.status, change.at) == (CallStatus.IN_PROGRESS, "2026-11-22T10:00:00.000Z")


def test_a_completed_recording_the_record_lacks_is_reported_as_its_callback_would() -> None:
    (recording,) = twilio_recordings()
    update = missing_recording(Call(call_sid="CA" + "a" * 32), [recording])
    assert update is not None
    assert (update.sid, update.status, update.duration_seconds, update.channels) == (
        "RE" + "a" * 32,
        "completed",
        4,
        2,
    )
    assert (update.source, update.track, update.url) == (
        "StartCallRecordingAPI",
        "both",
        f"https://media/{update.sid}",
    )
    assert update.started_at == "Fri, 14 Oct 2016 21:56:34 +0000"  # as RecordingStartTime is stored


def test_the_latest_completed_recording_wins_and_a_completed_record_is_kept() -> None:
    (first,) = twilio_recordings()
    later = TwilioRecording(
        sid="RE" + "b" * 32, url="u", status="completed", start_time=datetime(2016, 10, 14, 22, tzinfo=UTC)
    )
    update = missing_recording(Call(call_sid="CA" + "a" * 32), [later, first])
    assert update is not None
    assert update.sid == later.sid
    kept = Call(call_sid="CA" + "a" * 32, recording=Recording(sid="RE" + "c" * 32, status="completed"))
    assert missing_recording(kept, [later]) is None


def test_a_recording_held_in_progress_takes_twilios_absent() -> None:
    held = Call(call_sid="CA" + "a" * 32, recording=Recording(sid="RE" + "c" * 32, status="in-progress"))
    absent = TwilioRecording(sid="RE" + "c" * 32, url="u", status="absent", error_code="13617")
    update = missing_recording(held, [absent])
    assert update is not None
    assert (update.status, update.error_code) == ("absent", "13617")
    processing = TwilioRecording(sid="RE" + "c" * 32, url="u", status="processing")
    assert missing_recording(held, [processing]) is None
