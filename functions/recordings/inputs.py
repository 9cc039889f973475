"""The `Recording Completed` event as the recordings rule delivers it, checked before anything is read."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field

from shared.events import RecordingCompleted
from shared.patterns import CALL_SID_PATTERN


class RecordingCompletedDetail(RecordingCompleted):
    """The detail (`shared.events.RecordingCompleted`), with the call SID's shape checked too."""

    call_sid: str = Field(alias="callSid", pattern=CALL_SID_PATTERN)


class RecordingCompletedEvent(EventBridgeModel):
    """A whole EventBridge event: ours (`source`), of the one type this Lambda handles."""

    source: Literal["callscribe"]  # shared.events.SOURCE
    detail_type: Literal["Recording Completed"] = Field(alias="detail-type")
    detail: RecordingCompletedDetail
