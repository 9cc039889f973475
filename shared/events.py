"""Domain events on the product's EventBridge bus (`source` = "callscribe").

Detail models are the contract other tiers and the summaries rule rely on; publishers are a port
(`EventPublisher`, and `BatchEventPublisher` for several events in one request) with one real
adapter, so domain logic can be unit-tested with a fake. The call's own events are published by the
outbox from the calls table's stream (`functions/outbox`); the sweeper publishes its re-drives here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import CallscribeError
from shared.patterns import RECORDING_SID_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE = "callscribe"
MAX_ENTRIES = 10  # PutEvents takes at most ten entries per request


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
    """A call recording is ready at Twilio (published once per completed recording stored on the call)."""

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


class BatchEventPublisher(Protocol):
    def publish_all(self, events: Sequence[DomainEvent]) -> None:
        """Publish every event, in order; raises PublishError when any is still refused."""
        ...


class EventBridgePublisher:
    """Publishes to the bus named `bus_name` with an injected (cached, per-process) client.

    Botocore retries a request that failed whole (throttling, 5xx); `publish_all` also puts again
    the entries a request refused one by one (`FailedEntryCount`), up to `entry_attempts` times, so
    a transient refusal of one entry does not send the others again.
    """

    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        *,
        entry_attempts: int = 3,
        backoff_base: float = 0.1,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._client = client
        self._bus_name = bus_name
        self._entry_attempts = entry_attempts
        self._backoff_base = backoff_base
        self._sleep = sleep

    def publish(self, event: DomainEvent) -> None:
        self.publish_all([event])

    def publish_all(self, events: Sequence[DomainEvent]) -> None:
        for start in range(0, len(events), MAX_ENTRIES):
            self._put(list(events[start : start + MAX_ENTRIES]))

    def _put(self, events: list[DomainEvent]) -> None:
        pending = events
        for attempt in range(1, self._entry_attempts + 1):
            response = self._client.put_events(Entries=[self._entry(event) for event in pending])
            if not response.get("FailedEntryCount"):
                return
            outcomes = zip(pending, response["Entries"], strict=True)
            refused = [(event, result) for event, result in outcomes if "ErrorCode" in result]
            if attempt >= self._entry_attempts:
                event, result = refused[0]
                raise PublishError(
                    f"{len(refused)} of {len(pending)} events refused, e.g. {event.detail_type} for "
                    f"{event.call_sid}: {result.get('ErrorCode')} {result.get('ErrorMessage')}"
                )
            pending = [event for event, _ in refused]
            self._sleep(random.uniform(0, self._backoff_base * 2**attempt))  # noqa: S311 - jitter

    def _entry(self, event: DomainEvent) -> PutEventsRequestEntryTypeDef:
        return {
            "Source": SOURCE,
            "DetailType": event.detail_type,
            "Detail": event.detail_json(),
            "EventBusName": self._bus_name,
        }
