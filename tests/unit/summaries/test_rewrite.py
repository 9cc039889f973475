"""`SummaryService.rewrite` (the `Transcript Reconciled` path) and the route's language in the prompt,
on in-memory ports: one model call per transcript version, `Summary Created` once per summary version,
no model call when the recording added nothing or the summary is current."""

from __future__ import annotations

from typing import Any

import pytest

from functions.summaries.errors import TranscriptIncompleteError
from functions.summaries.inputs import TranscriptReconciledDetail
from shared.dal.keys import recording_segment_key
from shared.dal.records import RECORDING, Segment
from shared.events import SummaryCreated
from tests.unit.summaries.test_service import CONVERSATION, SID, Rig, rig

MODEL = "claude-haiku-5-5-20261007"
FILLED = Segment(
    call_sid=SID,
    segment_key=recording_segment_key(6.0, "inbound"),
    track="inbound",
    speaker="caller",
    text="And Friday after ten works best.",
    start=6.0,
    end=7.5,
    source="deepgram:nova-3",
    origin=RECORDING,
)


def reconciled(r: Rig, version: str, *, filled: float = 1.5) -> None:
    """What the recordings tier stores (its write is what the outbox announces as `Transcript Reconciled`)."""
    if filled > 0:
        r.segments.write_recording_segments([FILLED])
    r.calls.items.setdefault(SID, {"call_sid": SID}).update(transcript_version=version, filled_seconds=filled)


def rewrite(r: Rig, version: str, *, filled: float = 1.5, count: int | None = None) -> dict[str, Any]:
    segment_count = count if count is not None else len(r.segments.list_segments(SID))
    detail = TranscriptReconciledDetail.model_validate(
        {"callSid": SID, "segmentCount": segment_count, "filledSeconds": filled, "transcriptVersion": version}
    )
    return r.service.rewrite(detail, lambda: 300.0)


def test_a_summary_of_the_live_transcript_is_rewritten_once_when_the_recording_added_words() -> None:
    r = rig()
    r.create(len(CONVERSATION))
    assert "transcript_version" not in r.stored["summary"]  # written before any reconciliation
    reconciled(r, "v1")

    assert rewrite(r, "v1") == {"callSid": SID, "result": "rewritten", "model": MODEL}

    assert len(r.model.requests) == 2
    assert "Friday after ten" in r.model.requests[1].prompt  # the final transcript, filled words included
    assert r.stored["summary"]["transcript_version"] == "v1"
    assert r.stored["summary"]["segment_count"] == len(CONVERSATION) + 1
    assert r.announced == [
        SummaryCreated(call_sid=SID, model=MODEL),
        SummaryCreated(call_sid=SID, model=MODEL, transcript_version="v1"),
    ]
    assert "SummariesRewritten" in r.metrics.names()

    # the same version again (a duplicate event past the idempotency layer): no model call, no event
    assert rewrite(r, "v1")["result"] == "already-current"
    assert len(r.model.requests) == 2
    assert len(r.announced) == 2


def test_a_reconciliation_that_added_nothing_makes_no_model_call() -> None:
    r = rig()
    r.create(len(CONVERSATION))
    reconciled(r, "v1", filled=0.0)
    assert rewrite(r, "v1", filled=0.0)["result"] == "nothing-added"
    assert len(r.model.requests) == 1
    assert len(r.announced) == 1


def test_a_summary_written_after_the_reconciliation_names_its_version_and_is_not_rewritten() -> None:
    r = rig()
    reconciled(r, "v1")
    r.create(len(CONVERSATION) + 1)
    assert r.stored["summary"]["transcript_version"] == "v1"
    assert rewrite(r, "v1")["result"] == "already-current"
    assert len(r.model.requests) == 1


def test_without_a_summary_yet_nothing_is_asked() -> None:
    r = rig()
    reconciled(r, "v1")
    assert rewrite(r, "v1")["result"] == "no-summary-yet"
    assert r.model_built == []
    assert r.announced == []


def test_a_later_version_is_rewritten_again_once() -> None:
    r = rig()
    r.create(len(CONVERSATION))
    reconciled(r, "v1")
    rewrite(r, "v1")
    r.calls.items[SID]["transcript_version"] = "v2"  # re-reconciled once live was final
    assert rewrite(r, "v2")["result"] == "rewritten"
    assert rewrite(r, "v1")["result"] == "already-current"  # a late event of the older version
    assert len(r.model.requests) == 3
    assert [e.transcript_version for e in r.announced] == [None, "v1", "v2"]


def test_fewer_segments_than_the_reconciliation_announced_is_retried() -> None:
    r = rig()
    r.create(len(CONVERSATION))
    reconciled(r, "v1")
    with pytest.raises(TranscriptIncompleteError):
        rewrite(r, "v1", count=len(CONVERSATION) + 5)
    assert len(r.model.requests) == 1


def test_the_prompt_gets_the_routes_language() -> None:
    r = rig()
    r.calls.items[SID] = {"call_sid": SID, "language": "es"}
    r.create(len(CONVERSATION))
    assert "language 'es'" in r.model.requests[0].prompt  # not the recogniser's "en" on the segments
