"""When a record is final (`callscribe_local.settlement`), read from `GET /calls/{callSid}` JSON made by
the API's own view (`CallView`) of stored records, with costs priced by `shared.costs` itself: a
renamed key or a new cost part shows up here."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from callscribe_local.settlement import RECORDINGS, SUMMARIES, settlement
from shared.call_view import CallView
from shared.costs import Prices, call_cost
from shared.dal.records import Call, Gap, Recording

SID = "CA" + "a" * 32
VERSION = "0123456789abcdef"


def _json(call: Call, *, cost_of: Call | None = None) -> dict[str, Any]:
    """The API's JSON for `call`, its cost priced from `cost_of` (default: the call itself, i.e.
    current; an earlier stage of the call: a cost not yet recomputed by the last writer)."""
    priced = call_cost(cost_of or call, Prices())
    json: dict[str, Any] = CallView.of(replace(call, cost=priced), ()).as_json()
    return json


RINGING = Call(
    call_sid=SID, direction="inbound", status="in-progress", route="forward", recording_expected=True,
    transcript_status="in-progress", live_audio_seconds=20.0,
)  # fmt: skip
ENDED = replace(
    RINGING, status="completed", duration_seconds=35, transcript_status="completed", segment_count=9
)
RECORDED = replace(
    ENDED, recording=Recording(sid="RE" + "1" * 32, status="completed", duration_seconds=33, channels=2)
)
SUMMARISED = replace(RECORDED, summary={"summary": "Moved a delivery.", "estimated_cost_usd": 0.0021})
RECONCILED = replace(
    SUMMARISED,
    transcript_source="live+recording",
    live_coverage=0.81,
    gaps=(Gap("outbound", 10.5, 14.7),),
    filled_seconds=3.2,
    transcript_version=VERSION,
    alignment={"method": "words"},
)
REWRITTEN = replace(
    RECONCILED, summary={"summary": "Moved a delivery to Friday.", "estimated_cost_usd": 0.0023,
                         "transcript_version": VERSION},
)  # fmt: skip


def test_a_forwarded_call_is_settled_only_once_its_rewritten_summary_and_full_cost_are_stored() -> None:
    during = settlement(_json(RINGING))
    assert during.pending == ("the call to end (status in-progress)", "the live transcript (in-progress)")

    ended = settlement(_json(ENDED))  # the recording callback has not come yet
    assert ended.pending == ("the summary", "the recording (Twilio has not called back)")

    recorded = settlement(_json(SUMMARISED))
    assert recorded.pending == (f"reconciling recording {RECORDED.recording.sid} with the live transcript",)  # type: ignore[union-attr]

    # reconciled, words added, the first summary (live only) still stored: the rewrite is owed
    reconciled = settlement(_json(RECONCILED))
    assert reconciled.pending == ("the summary's rewrite from the reconciled transcript",)

    final = settlement(_json(REWRITTEN))
    assert (final.settled, final.complete, final.pending, final.problems) == (True, True, (), ())


def test_a_recording_reconciled_before_live_ended_waits_for_its_redo() -> None:
    """The recordings tier reconciled while the stream was still writing (its outage replay, say): the
    live segments written after are not in that reconciliation, so the record waits for the redo the
    outbox announces once live ends."""
    early = replace(REWRITTEN, reconciled_transcript_status="in-progress")
    sid = RECORDED.recording.sid  # type: ignore[union-attr]
    redo = f"reconciling recording {sid} again with the final live transcript"
    assert settlement(_json(early)).pending == (redo,)
    gave_up = settlement(_json(early), gave_up={RECORDINGS: "Deepgram 500"})
    assert gave_up.settled
    assert gave_up.problems == (f"recording {sid} reconciled only against the unfinished live transcript",)
    redone = replace(early, reconciled_transcript_status="completed")
    assert settlement(_json(redone)).complete


def test_the_cost_must_include_the_recordings_transcription_and_the_summary() -> None:
    """What `callscribe call` printed before: a total without the pre-recorded part."""
    before_reconciliation = settlement(_json(REWRITTEN, cost_of=SUMMARISED))
    assert before_reconciliation.pending == ("the cost of the recording's transcription, the summary",)
    no_cost = _json(REWRITTEN) | {"cost": None}
    assert settlement(no_cost).pending == ("the cost estimate",)


def test_a_reconciliation_that_added_nothing_keeps_the_first_summary() -> None:
    nothing_added = replace(RECONCILED, transcript_source="live", gaps=(), filled_seconds=0, live_coverage=1)
    assert settlement(_json(nothing_added)).complete


def test_no_recording_coming_is_settled_without_a_reconciliation() -> None:
    unrecorded = replace(ENDED, recording_expected=False, summary={"summary": "Hi.", "estimated_cost_usd": 0})
    assert settlement(_json(unrecorded)).complete
    # the route expects one, but the (simulated) phone made none: the caller says so
    expected = replace(unrecorded, recording_expected=True)
    assert settlement(_json(expected)).pending == ("the recording (Twilio has not called back)",)
    assert settlement(_json(expected), no_recording=True).complete


def test_a_failed_recording_or_a_delivery_that_gave_up_settles_with_a_problem() -> None:
    failed = replace(SUMMARISED, recording=Recording(sid="RE" + "2" * 32, status="failed"))
    outcome = settlement(_json(failed))
    assert outcome.settled
    assert not outcome.complete
    assert outcome.problems == (f"recording RE{'2' * 32} failed at Twilio: nothing to reconcile",)

    lost = settlement(_json(SUMMARISED), gave_up={RECORDINGS: "DeepgramError: 503"})
    assert lost.settled
    assert lost.problems == (
        f"recording RE{'1' * 32} not reconciled: its delivery gave up (DeepgramError: 503)",
    )

    no_summary = settlement(_json(replace(ENDED, recording_expected=False)), gave_up={SUMMARIES: "boom"})
    assert (no_summary.settled, no_summary.problems) == (True, ("no summary: its delivery gave up (boom)",))
    refused = replace(ENDED, recording_expected=False, summary_status="failed")
    assert settlement(_json(refused)).problems == ("no summary: the model refused it (summaryStatus failed)",)


def test_a_recording_still_in_progress_at_twilio_is_waited_for() -> None:
    busy = replace(SUMMARISED, recording=Recording(sid="RE" + "3" * 32, status="in-progress"))
    assert settlement(_json(busy)).pending == (f"recording RE{'3' * 32} (in-progress at Twilio)",)


def test_an_unanswered_call_with_no_stream_is_settled_by_its_status_and_cost() -> None:
    unanswered = Call(call_sid=SID, direction="outbound-api", status="no-answer", recording_expected=True)
    assert settlement(_json(unanswered)).complete
    assert settlement(None).pending == ("the call record",)
