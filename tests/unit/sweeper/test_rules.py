"""The sweeper's plan for a call whose stream died: finish its transcript, and reconcile its recording
with the finished transcript exactly once (by the sweeper's re-drive, or by the outbox's re-announce
of a reconciliation made before live ended), never both at once (two batch transcriptions billed)."""

from __future__ import annotations

from dataclasses import replace

from functions.sweeper.rules import plan_sweep
from shared.dal.records import Call, Recording

SID = "CA" + "7" * 32
STALE_BEFORE = "2026-12-07T10:00:00.000Z"
DEAD = Call(
    call_sid=SID,
    status="completed",
    transcript_status="in-progress",
    stream_owner="0f" * 16,
    stream_heartbeat_at="2026-12-07T09:00:00.000Z",  # older than STALE_BEFORE: the stream is dead
    recording=Recording(sid="RE" + "8" * 32, status="completed", duration_seconds=30, channels=2),
)


def test_a_recording_never_reconciled_is_re_driven_with_the_finish() -> None:
    plan = plan_sweep(DEAD, STALE_BEFORE)
    assert plan.finish_transcript
    assert plan.recording_completed


def test_a_recording_reconciled_before_live_ended_is_left_to_the_outbox_on_the_finish() -> None:
    early = replace(
        DEAD, reconciled_at="2026-12-07T09:01:00.000Z", reconciled_transcript_status="in-progress"
    )
    plan = plan_sweep(early, STALE_BEFORE)
    assert plan.finish_transcript
    assert not plan.recording_completed
    assert any("outbox re-announces" in reason for reason in plan.reasons)
