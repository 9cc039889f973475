"""Domain events on the product's EventBridge bus (`source` = "callscribe").

Detail models are the contract other tiers and the summaries rule rely on; publishers are a port
(`EventPublisher`) with one real adapter, so domain logic can be unit-tested with a fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import CallscribeError
from shared.patterns import RECORDING_SID_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "callscribe"


class DomainEvent(BaseModel):
    """Base of every event detail; `detail_type` is the EventBridge `detail-type`.

    `defer_build`: built on first use, so a webhook container that never completes a call (or a
    summaries one that never announces) does not build these at import.
    """

    model_config = ConfigDict(populate_by_name=True, frozen=True, defer_build=True)

    detail_type: ClassVar[str]

    call_sid: str = Field(alias="callSid")

    def detail_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class CallCompleted(DomainEvent):
    detail_type: ClassVar[str] = "Call Completed"

    status: str
    duration_seconds: int | None = Field(default=None, alias="durationSeconds")


class TranscriptCompleted(DomainEvent):
    detail_type: ClassVar[str] = "Transcript Completed"

    segment_count: int = Field(alias="segmentCount")
    transcript_status: str = Field(default="completed", alias="transcriptStatus")


class SummaryCreated(DomainEvent):
    detail_type: ClassVar[str] = "Summary Created"

    model: str
    # the transcript the summary was written from (absent before any reconciliation): one event per
    # summary version, so a consumer can tell a rewrite from a duplicate
    transcript_version: str | None = Field(default=None, alias="transcriptVersion")


class RecordingCompleted(DomainEvent):
    """A call recording is ready at Twilio (published once per recording SID by the webhooks)."""

    detail_type: ClassVar[str] = "Recording Completed"

    recording_sid: str = Field(alias="recordingSid", pattern=RECORDING_SID_PATTERN)
    channels: int = Field(ge=1, le=2)
    duration_seconds: int = Field(alias="durationSeconds", ge=0)
    # ISO-8601 UTC (whole seconds: Twilio's RecordingStartTime is RFC 2822); absent when Twilio sent none
    start_time: str | None = Field(default=None, alias="startTime")


class TranscriptReconciled(DomainEvent):
    """The recording was reconciled with the live transcript (docs/recordings.md)."""

    detail_type: ClassVar[str] = "Transcript Reconciled"

    segment_count: int = Field(alias="segmentCount", ge=0)  # segments of the final transcript
    filled_seconds: float = Field(alias="filledSeconds", ge=0)  # summed duration of the added words
    # which final transcript: the summaries rewrite once per version, keyed on it
    transcript_version: str = Field(alias="transcriptVersion", min_length=1)
    transcript_source: str | None = Field(default=None, alias="transcriptSource")


class PublishError(CallscribeError):
    """The bus refused the event: the caller must retry (or fail the request so its sender does)."""


class EventPublisher(Protocol):
    def publish(self, event: DomainEvent) -> None: ...


class EventBridgePublisher:
    """Publishes to the bus named `bus_name` with an injected (cached, per-process) client."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, event: DomainEvent) -> None:
        response = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": event.detail_json(),
                    "EventBusName": self._bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise PublishError(
                f"{event.detail_type} for {event.call_sid} refused: "
                f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )

