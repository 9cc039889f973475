"""The people's read API's routes over fakes: groups checked on every route, the list, the call as
the IAM route shows it, and recording links for supervisors only, each one logged with who asked."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.console_api.logic import recording_offset
from shared import clock
from shared.access import SUPERVISORS
from shared.dal.keys import segment_key
from shared.dal.records import Call, Segment
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`
from tests.unit.console_api.conftest import SUPERVISOR, VIEWER, Rig

SID = "CA" + "a" * 32
OTHER = "CA" + "b" * 32
TODAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()  # a whole day, in the default range


def add_calls(rig: Rig) -> None:
    rig.add_call(
        SID, call_date=TODAY, started_at=f"{TODAY}T00:00:01.000Z", status="completed", status_rank=4,
        direction="inbound", route="forward", from_number="+14155550100", to_number="+14155550199",
        duration_seconds=42, transcript_status="completed", cost={"total_usd": 0.031},
        recording={"sid": "RE" + "1" * 32, "started_at": "Mon, 07 Dec 2026 10:00:03 +0000"},
        recording_s3_key="recordings/CA/RE.wav", stream_started_at="2026-12-07T10:00:00.500Z",
    )  # fmt: skip
    rig.add_call(
        OTHER, call_date=TODAY, started_at=f"{TODAY}T00:00:02.000Z", status="in-progress", status_rank=3,
        direction="inbound", route="agent", from_number="+14155550101", to_number="+14155550199",
    )  # fmt: skip


def test_every_route_needs_the_viewers_group(rig: Rig, claims_of: Callable[..., dict[str, Any]]) -> None:
    add_calls(rig)
    for path in ("/calls", f"/calls/{SID}", f"/calls/{SID}/recording"):
        for claims in (None, claims_of(), claims_of(SUPERVISORS)):
            status, _, body = rig.get(path, claims)
            assert status == 403, (path, claims)
            assert "callscribe" in body["message"] or "signed-in" in body["message"]
    assert rig.links.asked == []


def test_the_list_newest_first_with_live_and_cost(rig: Rig) -> None:
    add_calls(rig)
    status, headers, body = rig.get("/calls", VIEWER)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert [call["callSid"] for call in body["calls"]] == [OTHER, SID]
    assert body["nextCursor"] is None
    first, second = body["calls"]
    assert (first["live"], first["costTotal"], second["live"], second["costTotal"]) == (
        True,
        None,
        False,
        0.031,
    )
    assert set(second) >= {
        "callSid", "startedAt", "endedAt", "direction", "route", "status", "durationSeconds",
        "transcriptStatus", "from", "to", "live", "costTotal",
    }  # fmt: skip


def test_the_list_pages_with_its_cursor_and_filters(rig: Rig) -> None:
    add_calls(rig)
    status, _, first = rig.get("/calls", VIEWER, query="limit=1")
    assert status == 200
    assert [call["callSid"] for call in first["calls"]] == [OTHER]
    _, _, second = rig.get("/calls", VIEWER, query=f"limit=1&cursor={first['nextCursor']}")
    assert [call["callSid"] for call in second["calls"]] == [SID]
    _, _, forward = rig.get("/calls", VIEWER, query="route=forward&status=completed")
    assert [call["callSid"] for call in forward["calls"]] == [SID]
    status, _, bad = rig.get("/calls", VIEWER, query="limit=500")
    assert (status, bad["message"]) == (400, "limit must be a whole number from 1 to 100")


def test_the_live_board_is_the_calls_not_ended_that_started_within_the_window(rig: Rig) -> None:
    def started(minutes_ago: int) -> dict[str, str]:
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        return {"started_at": clock.iso(at), "call_date": at.date().isoformat()}

    rig.add_call(SID, status="in-progress", status_rank=3, **started(1))
    rig.add_call(OTHER, status="completed", status_rank=4, **started(2))
    stale = "CA" + "e" * 32  # its completed callback never came: off the board after the window
    rig.add_call(stale, status="ringing", status_rank=2, **started(5 * 60))
    queued = "CA" + "f" * 32
    rig.add_call(queued, **started(3))  # no status yet: live
    _, _, live = rig.get("/calls", VIEWER, query="live=true")
    assert [call["callSid"] for call in live["calls"]] == [SID, queued]
    assert all(call["live"] for call in live["calls"])


def test_a_call_is_the_iam_routes_view(rig: Rig) -> None:
    add_calls(rig)
    rig.segments.write_segments(
        [Segment(call_sid=SID, segment_key=segment_key(1.0, "inbound"), track="inbound", speaker="caller",
                 text="hello", start=1.0, end=1.5)]
    )  # fmt: skip
    status, _, body = rig.get(f"/calls/{SID}", VIEWER)
    assert status == 200
    assert body["callSid"] == SID
    assert body["transcript"] == [
        {"track": "inbound", "speaker": "caller", "text": "hello", "start": 1.0, "end": 1.5, "source": "live",
         "segmentId": "0000001000#inbound"}
    ]  # fmt: skip
    assert rig.get(f"/calls/{'CA' + 'd' * 32}", VIEWER)[0] == 404
    assert rig.get("/calls/nope", VIEWER)[0] == 400


def test_a_supervisor_gets_a_link_and_the_read_is_logged(rig: Rig, log_output: io.StringIO) -> None:
    add_calls(rig)
    status, headers, body = rig.get(f"/calls/{SID}/recording", SUPERVISOR)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert body["url"] == "https://recordings.test/recordings/CA/RE.wav?expires=600"
    assert body["offsetSeconds"] == 2.5  # 10:00:03 recording start, 10:00:00.5 stream start
    assert body["offsetMethod"] == "timestamps"
    assert body["expiresAt"].endswith("Z")
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]
    issued = [line for line in lines if line.get("message") == "recording link issued"]
    assert len(issued) == 1
    assert (issued[0]["call_sid"], issued[0]["user_sub"]) == (SID, "sub-super")
    assert "vi@example.com" not in log_output.getvalue()


def test_a_viewer_gets_no_recording_and_a_call_without_one_is_404(rig: Rig) -> None:
    add_calls(rig)
    status, _, body = rig.get(f"/calls/{SID}/recording", VIEWER)
    assert (status, body["message"]) == (403, "recordings are for the callscribe-supervisors group")
    assert rig.get(f"/calls/{OTHER}/recording", SUPERVISOR)[0] == 404
    assert rig.get(f"/calls/{'CA' + 'd' * 32}/recording", SUPERVISOR)[0] == 404
    assert rig.links.asked == []


def test_the_recordings_offset_prefers_the_alignment() -> None:
    base = Call(call_sid=SID, stream_started_at="2026-12-07T10:00:00.000Z")
    aligned = Call(call_sid=SID, alignment={"offset_seconds": 2.37, "method": "words", "matches": 9})
    assert recording_offset(aligned) == (2.37, "words")
    assert recording_offset(base) == (0.0, "none")
    none_found = Call(call_sid=SID, alignment={"offset_seconds": 0, "method": "none", "matches": 0})
    assert recording_offset(none_found) == (0.0, "none")
