"""Twilio webhook parameter sets, shaped like what Twilio posts (see tests/fixtures/twilio)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qsl

from tests.conftest import TEST_ACCOUNT_SID

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
CALLER = "+14155550100"
CALLED = "+14155550199"
T0 = datetime(2026, 11, 22, 9, 30, 0, tzinfo=UTC)


def real_status_callback() -> list[tuple[str, str]]:
    """The real completed status callback (blank ToZip, UTF-8 cities), in its original order."""
    text = (FIXTURES / "status_callback_completed_real.form.txt").read_text().strip()
    return parse_qsl(text, keep_blank_values=True)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def voice_params(
    call_sid: str,
    *,
    caller: str = CALLER,
    called: str = CALLED,
    direction: str = "inbound",
    status: str = "ringing",
    **extra: str,
) -> dict[str, str]:
    params = {
        "AccountSid": TEST_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": called,
        "CalledCity": "SAN FRANCISCO",
        "CalledCountry": "US",
        "CalledState": "CA",
        "CalledZip": "",
        "Caller": caller,
        "CallerCity": "OAKLAND",
        "CallerCountry": "US",
        "CallerState": "CA",
        "CallerZip": "94601",
        "Direction": direction,
        "From": caller,
        "FromCity": "OAKLAND",
        "FromCountry": "US",
        "FromState": "CA",
        "FromZip": "94601",
        "To": called,
        "ToCity": "SAN FRANCISCO",
        "ToCountry": "US",
        "ToState": "CA",
        "ToZip": "",
        "StirVerstat": "TN-Validation-Passed-A",
        "CallToken": "%7B%22parentCallInfoToken%22%3A%22eyJ%22%7D",
    }
    params.update(extra)
    return params


def status_params(
    call_sid: str,
    status: str,
    sequence: int,
    *,
    duration: int | None = None,
    at: datetime | None = None,
    **extra: str,
) -> dict[str, str]:
    params = voice_params(call_sid, status=status)
    params.update(
        CallbackSource="call-progress-events",
        SequenceNumber=str(sequence),
        Timestamp=rfc2822(at or T0 + timedelta(seconds=sequence)),
    )
    if duration is not None:
        params.update(CallDuration=str(duration), Duration=str((duration + 59) // 60))
    params.update(extra)
    return params


def recording_params(
    call_sid: str, status: str = "completed", *, recording_sid: str | None = None
) -> dict[str, str]:
    sid = recording_sid or "RE" + uuid.uuid5(uuid.NAMESPACE_URL, call_sid).hex
    params = {
        "AccountSid": TEST_ACCOUNT_SID,
        "CallSid": call_sid,
        "RecordingSid": sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/{sid}",
        "RecordingStatus": status,
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        "RecordingStartTime": rfc2822(T0),
        "RecordingTrack": "both",
        "ErrorCode": "0",
    }
    if status == "completed":
        params["RecordingDuration"] = "37"
    return params
