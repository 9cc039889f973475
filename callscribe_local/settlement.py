"""When a call's record is final: one definition, from the `GET /calls/{callSid}` JSON alone (pure).

A record is settled when nothing the pipeline owes it is still to come: the call ended, its live
transcript final, the summary stored (or known not to come), the recording reconciled (or known not
to come), the summary rewritten once the recording added words, and the cost pricing every part the
record holds. `pending` says in words for people what is still to come; `problems` what will not
come because something failed (a settled record with problems is final but not complete).
Must keep: this is the only definition; `callscribe call`, `show`, the demo, the agent conversation
and the end-to-end tests all use it (docs/local.md, "The `callscribe` command", gives the cases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.status import TERMINAL_STATUSES, SummaryStatus, TranscriptStatus

FINAL_TRANSCRIPT = frozenset(
    {TranscriptStatus.COMPLETED.value, TranscriptStatus.INCOMPLETE.value, TranscriptStatus.FAILED.value}
)
RECORDING_NOT_COMING = frozenset({"failed", "absent"})  # Twilio's recording statuses with no audio
SUMMARIES = "summaries"  # the tiers whose delivery can give up (their local DLQ holds the event)
RECORDINGS = "recordings"
COST_TOLERANCE_USD = 1e-6


@dataclass(frozen=True)
class Settlement:
    pending: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def settled(self) -> bool:
        return not self.pending

    @property
    def complete(self) -> bool:
        """Settled with nothing failed: the record holds everything the call was meant to get."""
        return self.settled and not self.problems


def settlement(
    record: Mapping[str, Any] | None,
    *,
    gave_up: Mapping[str, str] | None = None,
    no_recording: bool = False,
) -> Settlement:
    """What `record` (GET /calls JSON; None: no record yet) still waits for.

    `gave_up`: tier (`SUMMARIES`, `RECORDINGS`) -> error, for deliveries that ended in the DLQ: what
    they would have written will not come. `no_recording`: the caller knows no recording was made
    (the simulated phone records no agent call), whatever the route expected.
    """
    if record is None:
        return Settlement(pending=("the call record",))
    gave_up = gave_up or {}
    pending: list[str] = []
    problems: list[str] = []

    status = record.get("status")
    if status not in TERMINAL_STATUSES:
        pending.append(f"the call to end (status {status or 'unknown'})")

    transcript = record.get("transcriptStatus")
    transcript_final = transcript in FINAL_TRANSCRIPT
    if transcript is not None and not transcript_final:
        pending.append(f"the live transcript ({transcript})")

    summary = record.get("summary")
    if transcript_final and summary is None:
        if SUMMARIES in gave_up:
            problems.append(f"no summary: its delivery gave up ({gave_up[SUMMARIES]})")
        elif record.get("summaryStatus") == SummaryStatus.FAILED.value:
            problems.append("no summary: the model refused it (summaryStatus failed)")
        else:
            pending.append("the summary")

    reconciled = _recording(record, gave_up, no_recording, pending, problems)

    version = record.get("transcriptVersion")
    rewrite_owed = reconciled and record.get("gaps") and summary is not None and SUMMARIES not in gave_up
    if rewrite_owed and summary.get("transcript_version") != version:  # type: ignore[union-attr]
        pending.append("the summary's rewrite from the reconciled transcript")

    if status in TERMINAL_STATUSES:
        _cost(record, reconciled, pending)
    return Settlement(tuple(pending), tuple(problems))


def _recording(
    record: Mapping[str, Any],
    gave_up: Mapping[str, str],
    no_recording: bool,
    pending: list[str],
    problems: list[str],
) -> bool:
    """Adds what the recording still owes; True when the record is reconciled with a recording."""
    recording = record.get("recording")
    reconciled = record.get("transcriptSource") is not None
    if recording is None:
        answered = record.get("status") == "completed"  # an unanswered call records nothing
        if record.get("recordingExpected") and answered and not no_recording and not reconciled:
            pending.append("the recording (Twilio has not called back)")
        return False
    sid, state = recording.get("sid", "?"), recording.get("status")
    if state in RECORDING_NOT_COMING:
        problems.append(f"recording {sid} {state} at Twilio: nothing to reconcile")
        return False
    if state != "completed":
        pending.append(f"recording {sid} ({state or 'status unknown'} at Twilio)")
        return False
    against = record.get("reconciledTranscriptStatus")
    if reconciled and against is not None and against not in FINAL_TRANSCRIPT:
        # reconciled while live was still being written: redone once live ends (the outbox's re-announce)
        if RECORDINGS in gave_up:
            problems.append(f"recording {sid} reconciled only against the unfinished live transcript")
        else:
            pending.append(f"reconciling recording {sid} again with the final live transcript")
        return True
    if reconciled:
        return True
    if RECORDINGS in gave_up:
        problems.append(f"recording {sid} not reconciled: its delivery gave up ({gave_up[RECORDINGS]})")
    else:
        pending.append(f"reconciling recording {sid} with the live transcript")
    return False


def _cost(record: Mapping[str, Any], reconciled: bool, pending: list[str]) -> None:
    """The cost estimate must price what the record holds (each writer recomputes it after its own
    write; until the last one has, the total is short)."""
    cost = record.get("cost")
    if not cost:
        pending.append("the cost estimate")
        return
    missing: list[str] = []
    ended = record.get("status") == "completed" and record.get("durationSeconds") is not None
    if ended and cost.get("twilioVoiceUsd") is None:
        missing.append("voice")
    recording = record.get("recording") or {}
    if recording.get("status") == "completed" and recording.get("durationSeconds") is not None:
        if cost.get("twilioRecordingUsd") is None:
            missing.append("recording")
        if reconciled and cost.get("deepgramPrerecordedUsd") is None:
            missing.append("the recording's transcription")
    summary_usd = (record.get("summary") or {}).get("estimated_cost_usd")
    claude = cost.get("claudeUsd")
    if summary_usd is not None and (
        claude is None or abs(float(claude) - float(summary_usd)) > COST_TOLERANCE_USD
    ):
        missing.append("the summary")
    if missing:
        pending.append(f"the cost of {', '.join(missing)}")
