"""What each route of the people's read API does: read through the ports, decide, shape the answer.

Handlers in `app` parse and call exactly one function here; nothing here sees an HTTP event or
touches boto3 (only the ports in `Services`), so unit tests run it against in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.console_api import metric_names
from functions.console_api.access import Person
from functions.console_api.inputs import encode_cursor
from functions.console_api.recording_links import RecordingLinks
from functions.console_api.settings import ConsoleApiSettings
from functions.console_api.views import CallListItemView, RecordingLinkView
from shared import call_view, clock
from shared.call_view import CallView
from shared.dal.ports import CallListReader, CallReader, SegmentPageReader
from shared.dal.records import Call, CallListQuery
from shared.errors import CallNotFoundError, CallscribeError
from shared.observability import logger, metrics
from shared.transcript_pages import TranscriptPage


class RecordingNotFoundError(CallscribeError):
    """The call has no stored copy of a recording (none made, or not copied yet): answered 404."""


@dataclass(frozen=True)
class Services:
    """The ports one request may use; built once per process by `dependencies.build_services`."""

    settings: ConsoleApiSettings
    calls: CallReader
    segments: SegmentPageReader
    call_list: CallListReader
    recordings: RecordingLinks


def list_calls(query: CallListQuery, services: Services) -> dict[str, Any]:
    """One page of the list, newest first, and the cursor to the next (null: the list ends)."""
    page = services.call_list.list_calls(query)
    metrics.add_metric(name=metric_names.CALLS_LISTED, unit="Count", value=1)
    return {
        "calls": [CallListItemView.of(call).as_json() for call in page.calls],
        "nextCursor": None if page.next is None else encode_cursor(page.next),
    }


def describe_call(call_sid: str, page: TranscriptPage, services: Services) -> CallView:
    view = call_view.describe_call(call_sid, services.calls, services.segments, page)
    metrics.add_metric(name=metric_names.CALL_VIEWED, unit="Count", value=1)
    return view


def recording_link(call_sid: str, person: Person, services: Services, now: datetime) -> RecordingLinkView:
    """A short-lived link to the call's stored recording, for a supervisor; every one is logged with
    who asked (their sub, never their email) and which call."""
    person.require_supervisor()
    call = services.calls.get(call_sid)
    if call is None:
        raise CallNotFoundError(f"no call {call_sid}")
    if not call.recording_s3_key:
        raise RecordingNotFoundError(f"call {call_sid} has no stored recording")
    seconds = services.settings.recording_link_seconds
    url = services.recordings.link(call.recording_s3_key, seconds)
    offset, method = recording_offset(call)
    expires_at = clock.iso(now + timedelta(seconds=seconds))
    recording_sid = None if call.recording is None else call.recording.sid
    who = person.log_keys()
    logger.info(
        "recording link issued",
        extra={"call_sid": call_sid, "recording_sid": recording_sid, "expires_at": expires_at, **who},
    )
    metrics.add_metric(name=metric_names.RECORDING_LINK_ISSUED, unit="Count", value=1)
    return RecordingLinkView(url=url, expires_at=expires_at, offset_seconds=offset, offset_method=method)


def recording_offset(call: Call) -> tuple[float, str]:
    """Where the recording starts in stream time, and how that is known: the reconciliation's
    alignment when it found one, else the two start times (the recording's is Twilio's RFC 2822
    `RecordingStartTime`, whole seconds), else 0 (`none`)."""
    alignment = call.alignment or {}
    if alignment.get("method") in ("words", "timestamps") and alignment.get("offset_seconds") is not None:
        return float(alignment["offset_seconds"]), str(alignment["method"])
    recording = call.recording.started_at if call.recording is not None else None
    if recording and call.stream_started_at:
        started = clock.parse_rfc2822(recording) or _parse_iso(recording)
        stream = _parse_iso(call.stream_started_at)
        if started is not None and stream is not None:
            return round((started - stream).total_seconds(), 3), "timestamps"
    return 0.0, "none"


def _parse_iso(value: str) -> datetime | None:
    try:
        return clock.parse_iso(value)
    except ValueError:
        return None
