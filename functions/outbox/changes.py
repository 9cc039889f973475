"""What one write to a call record changed: the transitions between its old and its new image.

Pure: (old image, new image) from the calls table's stream in, changes out; each sink turns the
changes it cares about into its own messages. What a change must keep:
- a change is reported only when the record moved: a write that stored what was there yields none,
  so however often and in whatever order the writes land, each transition is reported once;
- the changes of one write come in a fixed order (status, recording, transcript, reconciliation,
  outdated reconciliation, summary), each carrying the record as written, so a sink never reads
  the table to describe one;
- a new kind of change is a new class here, added to `Change`; sinks that do not know it ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.dal.records import RECORDING_COMPLETED, Call
from shared.status import TERMINAL_RANK, TranscriptStatus

FINAL_TRANSCRIPT = frozenset(
    {TranscriptStatus.COMPLETED.value, TranscriptStatus.INCOMPLETE.value, TranscriptStatus.FAILED.value}
)


@dataclass(frozen=True)
class CallStatusChanged:
    """The call's status moved (ringing, in progress, a terminal status): `previous` is what it was."""

    call: Call
    previous: str | None

    @property
    def status(self) -> str:
        return str(self.call.status)

    @property
    def terminal(self) -> bool:
        return self.call.status_rank == TERMINAL_RANK


@dataclass(frozen=True)
class RecordingReady:
    """A completed recording is on the call (a new SID, or the first completed report of it)."""

    call: Call


@dataclass(frozen=True)
class TranscriptFinished:
    """The live transcript ended: its first final status with a segment count (the owning stream's
    last write, or the sweeper's for a stream it found dead). A later ending of the same transcript
    (the stream's own, landing after the sweeper's) is not another: the summaries summarise once per
    transcript, and the first end is the one they were told of."""

    call: Call


@dataclass(frozen=True)
class ReconciliationStored:
    """A reconciliation was stored on the call: by the recordings tier, with a transcript version
    (again when redone against the final live transcript), or by the sweeper settling a call
    recorded by nothing (no version)."""

    call: Call


@dataclass(frozen=True)
class ReconciliationOutdated:
    """The live transcript has ended, and the stored reconciliation was made while it was still being
    written (whichever of the two writes landed last): the recording is to be reconciled again,
    against the final live transcript. Reported once: the redo stores a final live status."""

    call: Call


@dataclass(frozen=True)
class SummaryStored:
    """A summary was stored on the call; `rewrite` when it replaced an earlier one."""

    call: Call
    rewrite: bool


Change = (
    CallStatusChanged
    | RecordingReady
    | TranscriptFinished
    | ReconciliationStored
    | ReconciliationOutdated
    | SummaryStored
)


def changes(old: Call | None, new: Call | None) -> tuple[Change, ...]:
    """What the write from `old` to `new` changed (either None: the item did not exist before, or was
    deleted). A deletion reports nothing: calls are never deleted by the product."""
    if new is None:
        return ()
    found: list[Change] = []
    previous_status = None if old is None else old.status
    if new.status is not None and new.status != previous_status:
        found.append(CallStatusChanged(new, previous_status))
    if _completed_recording(new) is not None and _completed_recording(new) != _completed_recording(old):
        found.append(RecordingReady(new))
    if _transcript_end(new) is not None and _transcript_end(old) is None:
        found.append(TranscriptFinished(new))
    if _reconciliation(new) is not None and _reconciliation(new) != _reconciliation(old):
        found.append(ReconciliationStored(new))
    if _reconciled_early(new) and not _reconciled_early(old):
        found.append(ReconciliationOutdated(new))
    if new.summary is not None and new.summary != (None if old is None else old.summary):
        found.append(SummaryStored(new, rewrite=old is not None and old.summary is not None))
    return tuple(found)


def _completed_recording(call: Call | None) -> str | None:
    """The SID of the call's recording when it is completed."""
    recording = None if call is None else call.recording
    if recording is None or recording.status != RECORDING_COMPLETED:
        return None
    return recording.sid


def _reconciliation(call: Call | None) -> tuple[str, str | None, str | None] | None:
    """Which reconciliation is stored: every write of one sets `reconciled_at` and stores another
    (transcript version, live status) than the one before it, so either tells a new one apart."""
    if call is None or call.reconciled_at is None:
        return None
    return call.reconciled_at, call.transcript_version, call.reconciled_transcript_status


def _reconciled_early(call: Call | None) -> bool:
    """The live transcript has ended, but the completed recording was reconciled before it had."""
    return (
        call is not None
        and _transcript_end(call) is not None
        and _completed_recording(call) is not None
        and call.reconciled_transcript_status is not None
        and call.reconciled_transcript_status not in FINAL_TRANSCRIPT
    )


def _transcript_end(call: Call | None) -> tuple[str, int] | None:
    """How the transcript ended (status, segment count), or None while it has not.

    A final status without a segment count is the streamer's early `failed` mark: the stream is
    still draining, and its last write (with the count) is the end the summaries wait for.
    """
    if call is None or call.transcript_status not in FINAL_TRANSCRIPT or call.segment_count is None:
        return None
    return str(call.transcript_status), call.segment_count
