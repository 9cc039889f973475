"""What the summaries Lambda parses: the EventBridge event its rule delivers, and the two details.

Each is checked (the call SID's shape, a non-negative segment count) before anything is read.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field

from shared.events import TranscriptCompleted, TranscriptReconciled
from shared.patterns import CALL_SID_PATTERN


class SummaryTrigger(EventBridgeModel):
    """An event the summaries rule delivers: its detail is typed once its `detail-type` is known."""

    source: Literal["callscribe"]  # shared.events.SOURCE
    detail_type: Literal["Transcript Completed", "Transcript Reconciled"] = Field(alias="detail-type")


class TranscriptCompletedDetail(TranscriptCompleted):
    """The `Transcript Completed` detail, with the call SID's shape checked before anything is read."""

    call_sid: str = Field(alias="callSid", pattern=CALL_SID_PATTERN)
    segment_count: int = Field(alias="segmentCount", ge=0)


class TranscriptReconciledDetail(TranscriptReconciled):
    """The `Transcript Reconciled` detail (the recordings tier), with the call SID's shape checked."""

    call_sid: str = Field(alias="callSid", pattern=CALL_SID_PATTERN)
