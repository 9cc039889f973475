"""What Twilio's REST API says of a call means for its record (pure: no I/O, no clock).

These functions say what the lost callbacks would have written, for the same writes to store it:
- `status_changes`: the status reports Twilio's answer stands for, through the status callbacks' own
  rules (`shared.status_changes`); nothing when Twilio is not ahead of the record;
- `missing_recording`: the recording callback Twilio would have sent (its latest completed
  recording, else `absent` for one the record holds in progress);
- `bill`: what Twilio billed for the leg (`shared.costs.twilio_billed`).
Details: docs/recordings.md, "When a callback was lost"; the bill: docs/costs.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from functions.sweeper.twilio_rest import TwilioCall, TwilioRecording
from shared import clock
from shared.costs import twilio_billed
from shared.dal.records import RECORDING_COMPLETED, Call, CallParties, RecordingUpdate
from shared.status import CallStatus
from shared.status_changes import StatusChange

RECORDING_IN_PROGRESS = "in-progress"
RECORDING_ABSENT = "absent"
RECORDING_FINAL = frozenset({RECORDING_COMPLETED, RECORDING_ABSENT, "failed"})


def status_changes(call: Call, twilio: TwilioCall, now: datetime) -> list[StatusChange]:
    """The status reports to apply, in order (empty when Twilio is not ahead of the record)."""
    try:
        status = CallStatus(twilio.status or "")
    except ValueError:
        return []  # a status Twilio may add one day: nothing we know how to write
    stored_rank = call.status_rank if call.status_rank is not None else -1
    if status.rank <= stored_rank:
        return []
    parties = CallParties(direction=twilio.direction, parent_call_sid=twilio.parent_call_sid)
    changes: list[StatusChange] = []
    answered_rank = CallStatus.IN_PROGRESS.rank
    if status is CallStatus.COMPLETED and stored_rank < answered_rank and twilio.start_time is not None:
        changes.append(StatusChange(call.call_sid, CallStatus.IN_PROGRESS, clock.iso(twilio.start_time)))
    changes.append(
        StatusChange(
            call.call_sid,
            status,
            clock.iso(_reached_at(status, twilio) or now),
            duration_seconds=twilio.duration_seconds if status.is_terminal else None,
            answered_by=twilio.answered_by,
            parties=parties,
        )
    )
    return changes


def _reached_at(status: CallStatus, twilio: TwilioCall) -> datetime | None:
    """When the call reached `status`, as far as the resource tells: its end for a terminal status
    (`end_time` is empty for a call that did not complete: then its last update), its start for
    `in-progress`, its last update for anything earlier."""
    if status.is_terminal:
        return twilio.end_time or twilio.date_updated
    if status is CallStatus.IN_PROGRESS:
        return twilio.start_time or twilio.date_updated
    return twilio.date_updated


def missing_recording(call: Call, recordings: Sequence[TwilioRecording]) -> RecordingUpdate | None:
    """The recording report the record lacks, as the recording callback would have carried it."""
    held = call.recording
    if held is not None and held.status == RECORDING_COMPLETED:
        return None
    completed = [r for r in recordings if r.status == RECORDING_COMPLETED]
    if completed:
        return _update(call.call_sid, max(completed, key=_recency))
    if held is not None and held.status == RECORDING_IN_PROGRESS:
        ended = next((r for r in recordings if r.sid == held.sid and r.status == RECORDING_ABSENT), None)
        if ended is not None:
            return _update(call.call_sid, ended)
    return None


def _recency(recording: TwilioRecording) -> tuple[datetime, datetime, str]:
    floor = datetime.min.replace(tzinfo=UTC)
    return (recording.start_time or floor, recording.date_created or floor, recording.sid)


def _update(call_sid: str, recording: TwilioRecording) -> RecordingUpdate:
    started = recording.start_time
    return RecordingUpdate(
        call_sid=call_sid,
        sid=recording.sid,
        status=recording.status or RECORDING_COMPLETED,
        url=recording.url,
        duration_seconds=recording.duration_seconds,
        channels=recording.channels,
        source=recording.source,
        track=recording.track,
        # RFC 2822 with whole seconds, as the callback's RecordingStartTime (what the record stores)
        started_at=None if started is None else format_datetime(started.replace(microsecond=0)),
        error_code=recording.error_code,
    )


def bill(
    call: Call, twilio: TwilioCall, recordings: Sequence[TwilioRecording] | None, read_at: str
) -> dict[str, object] | None:
    """`cost.billed` as Twilio reports it now (`recordings` None: the call has none to bill, so none
    were asked for); None until Twilio has priced the call."""
    prices: list[tuple[str | None, str | None]] | None = None
    if recordings is not None:
        completed = [r for r in recordings if r.status == RECORDING_COMPLETED]
        prices = [(r.price, r.price_unit) for r in completed]
        held = call.recording
        listed = {r.sid for r in completed}
        if held is not None and held.status == RECORDING_COMPLETED and held.sid not in listed:
            prices.append((None, None))  # billed, but no longer listed: its price cannot be read
    return twilio_billed(twilio.price, twilio.price_unit, prices, read_at)
