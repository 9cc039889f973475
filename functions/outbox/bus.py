"""The EventBridge sink: the contract's events (`shared.events`) for the changes that announce one.

`CallStatusChanged` to a terminal status → `Call Completed`; `RecordingReady` → `Recording Completed`
(`ReconciliationOutdated` → the same again: the recording reconciled with the final live transcript);
`TranscriptFinished` → `Transcript Completed`; `ReconciliationStored` with a transcript version →
`Transcript Reconciled`; `SummaryStored` → `Summary Created`. Every other change has no event.
The fields of each: docs/architecture.md, "Events: the outbox".

What a change must keep: the detail fields are the contract's (the models in `shared/events.py`),
each built from the new image only, so a retried record publishes the same detail.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.outbox.changes import (
    CallStatusChanged,
    Change,
    ReconciliationOutdated,
    ReconciliationStored,
    RecordingReady,
    SummaryStored,
    TranscriptFinished,
)
from functions.outbox.sinks import Delivery, Refusal
from shared import clock
from shared.dal.records import Call
from shared.events import (
    BatchEventPublisher,
    CallCompleted,
    DomainEvent,
    RecordingCompleted,
    SummaryCreated,
    TranscriptCompleted,
    TranscriptReconciled,
)

NO_MODEL = "none"  # the `model` of a summary no model wrote, as the summaries tier stores it


def contract_event(change: Change) -> DomainEvent | None:
    """The bus event `change` announces, or None; ValueError when the record cannot make a valid one."""
    call = change.call
    if isinstance(change, CallStatusChanged):
        if not change.terminal:
            return None
        duration = call.duration_seconds
        return CallCompleted.model_validate(
            {
                "callSid": call.call_sid,
                "status": change.status,
                "durationSeconds": None if duration is None else int(duration),
            }
        )
    if isinstance(change, RecordingReady | ReconciliationOutdated):
        return _recording_completed(call)
    if isinstance(change, TranscriptFinished):
        return TranscriptCompleted.model_validate(
            {
                "callSid": call.call_sid,
                "segmentCount": call.segment_count,
                "transcriptStatus": call.transcript_status,
            }
        )
    if isinstance(change, ReconciliationStored):
        return _transcript_reconciled(change)
    if isinstance(change, SummaryStored):
        summary = call.summary or {}
        return SummaryCreated.model_validate(
            {
                "callSid": call.call_sid,
                "model": str(summary.get("model") or NO_MODEL),
                "transcriptVersion": summary.get("transcript_version"),
            }
        )
    return None


def _recording_completed(call: Call) -> RecordingCompleted:
    recording = call.recording
    if recording is None:
        raise ValueError(f"{call.call_sid}: a ready recording without a recording")
    started = clock.parse_rfc2822(recording.started_at) if recording.started_at else None
    return RecordingCompleted.model_validate(
        {
            "callSid": call.call_sid,
            "recordingSid": recording.sid,
            "channels": int(recording.channels or 1),  # Twilio's default recording is mono
            "durationSeconds": int(recording.duration_seconds or 0),
            "startTime": None if started is None else clock.iso(started),
        }
    )


def _transcript_reconciled(change: ReconciliationStored) -> TranscriptReconciled | None:
    call = change.call
    if not call.transcript_version:
        return None  # settled as live only: no reconciliation for the summaries to act on
    segments = call.reconciled_segment_count
    return TranscriptReconciled.model_validate(
        {
            "callSid": call.call_sid,
            "segmentCount": segments if segments is not None else call.segment_count or 0,
            "filledSeconds": call.filled_seconds or 0,
            "transcriptVersion": call.transcript_version,
            "transcriptSource": call.transcript_source,
        }
    )


class EventBridgeSink:
    """Publishes the contract's events of one write's changes in one PutEvents (in change order)."""

    name = "eventbridge"

    def __init__(self, publisher: BatchEventPublisher) -> None:
        self._publisher = publisher

    def deliver(self, changes: Sequence[Change]) -> Delivery:
        events: list[DomainEvent] = []
        refused: list[Refusal] = []
        for change in changes:
            try:
                event = contract_event(change)
            except ValueError as exc:  # pydantic's ValidationError too: a record no event can describe
                refused.append(Refusal(self.name, type(change).__name__, str(exc)))
                continue
            if event is not None:
                events.append(event)
        if events:
            self._publisher.publish_all(events)
        return Delivery(sent=tuple(event.detail_type for event in events), refused=tuple(refused))
