"""What a due call still needs, decided from its record alone (pure: no AWS, no clock).

A call is due once it has waited `SWEEP_AFTER_SECONDS` since it ended (or since the last re-drive):
whatever is still open by then was lost. What a change must keep:
- the sweeper re-drives work, never announcements (the outbox announces every write that landed),
  and holds no tier's logic: it re-publishes the event the tier already handles;
- a transcript whose stream is alive (claimed, heartbeat newer than the bound) is that stream's:
  wait; a recording in progress or one the sweeper just wrote from Twilio: wait;
- nothing is expected of a call without a transcript status, or with a recording `absent`/`failed`.
The rules, one row each: docs/recordings.md, "What it does with a due call".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared import clock
from shared.dal.records import RECORDING_COMPLETED, Call
from shared.events import RecordingCompleted, TranscriptCompleted
from shared.status import SummaryStatus, TranscriptStatus

LIVE_TRANSCRIPT = frozenset({TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value})
FINAL_TRANSCRIPT = frozenset(
    {TranscriptStatus.COMPLETED.value, TranscriptStatus.INCOMPLETE.value, TranscriptStatus.FAILED.value}
)
RECORDING_IN_PROGRESS = "in-progress"


@dataclass(frozen=True)
class SweepPlan:
    """What one sweep of a call does; `reasons` says why, for the log and the operator."""

    finish_transcript: bool = False  # the finishing write is announced by the outbox
    transcript_completed: bool = False  # re-publish `Transcript Completed`
    recording_completed: bool = False  # (re-)publish `Recording Completed`
    summary_failed: bool = False  # mark `summary_status = failed` (no summary came in time)
    waiting: bool = False  # something is open that no event of ours can move
    # settle by storing the call as reconciled from live alone (no recording will ever come)
    live_only: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def settled(self) -> bool:
        return not (self.redrives or self.waiting)

    @property
    def redrives(self) -> bool:
        return self.finish_transcript or self.transcript_completed or self.recording_completed


def stream_alive(call: Call, stale_before: str) -> bool:
    """The stream that claimed the call showed a sign of life at or after `stale_before` (ISO-8601
    UTC, as every stored time: they compare as strings)."""
    heartbeat = call.stream_heartbeat_at
    return call.stream_owner is not None and heartbeat is not None and heartbeat >= stale_before


def plan_sweep(call: Call, stale_before: str) -> SweepPlan:
    """The sweep a due call needs (see the module's table); a stream whose heartbeat is older than
    `stale_before` is dead."""
    reasons: list[str] = []
    status = call.transcript_status
    finish = transcript_completed = summary_failed = waiting = False
    # a stored summary is announced by its own write (the outbox): nothing about it can be owed
    summarised = call.summary is not None
    if stream_alive(call, stale_before) and (status in LIVE_TRANSCRIPT or not summarised):
        reasons.append(
            f"transcript {status} and its stream alive (heartbeat at {call.stream_heartbeat_at}): "
            "the stream finishes it"
        )
        waiting = True
    elif status in LIVE_TRANSCRIPT:
        finish = True
        reasons.append(f"transcript still {status}: its stream never finished")
    elif status in FINAL_TRANSCRIPT and not summarised:
        reasons.append(f"transcript {status} but no summary: the summaries never stored one")
        transcript_completed = True
        summary_failed = call.summary_status != SummaryStatus.FAILED.value

    recording_completed = False
    recording = call.recording
    if recording is not None and recording.status == RECORDING_COMPLETED:
        if finish and _reconciled_before_live_ended(call):
            # the finishing write ends the transcript: the outbox announces the recording again then
            reasons.append("recording reconciled before live ended: the outbox re-announces it on the finish")
        elif finish:
            reasons.append("recording to reconcile with the transcript the sweeper finishes")
            recording_completed = True
        elif call.reconciled_at is None:
            reasons.append("recording completed but never reconciled: the recordings tier never stored it")
            recording_completed = True
        elif (
            status in FINAL_TRANSCRIPT
            and call.reconciled_transcript_status is not None
            and call.reconciled_transcript_status != status
        ):
            reasons.append(
                f"recording reconciled while live was {call.reconciled_transcript_status}; "
                f"live is {status} now"
            )
            recording_completed = True
    elif recording is not None and recording.status == RECORDING_IN_PROGRESS:
        reasons.append("recording still in progress at Twilio: no completed callback yet")
        waiting = True

    live_only = (
        recording is None
        and call.recording_expected is False
        and status in FINAL_TRANSCRIPT
        and call.reconciled_at is None
    )
    if live_only:
        reasons.append("recorded by nothing: reconciled as live only")

    return SweepPlan(
        live_only=live_only,
        finish_transcript=finish,
        transcript_completed=transcript_completed,
        recording_completed=recording_completed,
        summary_failed=summary_failed,
        waiting=waiting,
        reasons=tuple(reasons),
    )


def _reconciled_before_live_ended(call: Call) -> bool:
    status = call.reconciled_transcript_status
    return status is not None and status not in FINAL_TRANSCRIPT


def leave_to_the_outbox(plan: SweepPlan, read: Call, now: Call) -> SweepPlan:
    """`plan` for the record as it is `now`, minus the re-drive of a completed recording that landed
    after the sweeper `read` the call (its read of Twilio's REST API just wrote it): the outbox
    announces that write as `Recording Completed`, and re-publishing it too would run the recording's
    reconciliation twice at once. The call waits instead, so a later look re-drives it if the
    recordings tier never stored a reconciliation."""
    if not plan.recording_completed or _completed_sid(now) in (None, _completed_sid(read)):
        return plan
    return replace(
        plan,
        recording_completed=False,
        waiting=True,
        reasons=(*plan.reasons, "recording just written from Twilio: the outbox announces it"),
    )


def _completed_sid(call: Call) -> str | None:
    recording = call.recording
    return recording.sid if recording is not None and recording.status == RECORDING_COMPLETED else None


def stalled_transcript_error(segment_count: int, patience_seconds: int) -> str:
    """`transcript_error` of a transcript the sweeper finished."""
    return (
        f"the stream never finished: the sweeper closed the transcript {patience_seconds} s after the "
        f"call ended, with the {segment_count} live segments stored"
    )


def transcript_event(call: Call) -> TranscriptCompleted:
    """`Transcript Completed` as the outbox announced it when the transcript ended, from the record."""
    return TranscriptCompleted.model_validate(
        {
            "callSid": call.call_sid,
            "segmentCount": call.segment_count or 0,
            "transcriptStatus": call.transcript_status or TranscriptStatus.COMPLETED.value,
        }
    )


def recording_event(call: Call) -> RecordingCompleted:
    """`Recording Completed` as the outbox announces it, from the call's stored recording.

    Twilio's `RecordingStartTime` is stored as it came (RFC 2822, whole seconds); the event carries
    ISO-8601 UTC. Without one, the answer time (a dual recording starts at answer), else the call's
    start, is the best prior the alignment can get; with none of them `startTime` is left out, as
    the outbox leaves it out when Twilio sent none.
    """
    recording = call.recording
    if recording is None:
        raise ValueError(f"{call.call_sid} has no recording")
    start = _iso(recording.started_at) or _iso(call.answered_at) or _iso(call.started_at)
    detail: dict[str, object] = {
        "callSid": call.call_sid,
        "recordingSid": recording.sid,
        "channels": int(recording.channels or 1),
        "durationSeconds": int(recording.duration_seconds or 0),
    }
    if start is not None:
        detail["startTime"] = start
    return RecordingCompleted.model_validate(detail)


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    moment = clock.parse_rfc2822(value)
    if moment is None:
        try:
            moment = clock.parse_iso(value)
        except ValueError:
            return None
    return clock.iso(moment)
