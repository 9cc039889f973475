"""Typed models of what Twilio posts (form bodies) and what the calls API accepts (JSON).

Twilio parameter names are the aliases; blank values (Twilio sends `ToZip=` and friends) read as
absent. A missing CallSid or an unknown CallStatus is a malformed request (400), never a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared import clock
from shared.dal.records import CallParties
from shared.errors import MalformedRequestError
from shared.patterns import CALL_SID_PATTERN, RECORDING_SID_PATTERN
from shared.routing import E164
from shared.status import CallStatus
from shared.validation import describe_errors

T = TypeVar("T", bound="TwilioForm")


class TwilioForm(BaseModel):
    """Base of Twilio's form posts: aliases are Twilio's names, unknown parameters are ignored.

    `defer_build`: each model's validator is built on its first use, not at import. A container's
    first request then builds only its own route's model instead of all of them at import (they
    were the largest part of the handler's own import); configuration errors in a model still fail
    the unit tests that use it.
    """

    model_config = ConfigDict(
        populate_by_name=True, extra="ignore", frozen=True, str_strip_whitespace=False, defer_build=True
    )

    call_sid: str = Field(alias="CallSid", pattern=CALL_SID_PATTERN)
    account_sid: str | None = Field(default=None, alias="AccountSid")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def from_form(cls: type[T], form: Mapping[str, str]) -> T:
        try:
            return cls.model_validate(dict(form))
        except ValidationError as exc:
            raise MalformedRequestError(describe_errors(exc)) from exc


class CallForm(TwilioForm):
    """Parameters of every call webhook: parties, direction, status and (when known) places."""

    call_status: CallStatus = Field(alias="CallStatus")
    direction: str | None = Field(default=None, alias="Direction")
    from_number: str | None = Field(default=None, alias="From")
    to_number: str | None = Field(default=None, alias="To")
    parent_call_sid: str | None = Field(default=None, alias="ParentCallSid", pattern=CALL_SID_PATTERN)
    forwarded_from: str | None = Field(default=None, alias="ForwardedFrom")
    caller_name: str | None = Field(default=None, alias="CallerName")
    from_city: str | None = Field(default=None, alias="FromCity")
    from_state: str | None = Field(default=None, alias="FromState")
    from_zip: str | None = Field(default=None, alias="FromZip")
    from_country: str | None = Field(default=None, alias="FromCountry")
    to_city: str | None = Field(default=None, alias="ToCity")
    to_state: str | None = Field(default=None, alias="ToState")
    to_zip: str | None = Field(default=None, alias="ToZip")
    to_country: str | None = Field(default=None, alias="ToCountry")
    timestamp: str | None = Field(default=None, alias="Timestamp")

    def parties(self) -> CallParties:
        return CallParties(
            account_sid=self.account_sid,
            parent_call_sid=self.parent_call_sid,
            direction=self.direction,
            from_number=self.from_number,
            to_number=self.to_number,
            forwarded_from=self.forwarded_from,
            caller_name=self.caller_name,
            from_city=self.from_city,
            from_state=self.from_state,
            from_zip=self.from_zip,
            from_country=self.from_country,
            to_city=self.to_city,
            to_state=self.to_state,
            to_zip=self.to_zip,
            to_country=self.to_country,
        )

    def event_time(self) -> str:
        """When the event fired by Twilio's clock (RFC 2822 Timestamp), else now."""
        moment = clock.parse_rfc2822(self.timestamp) if self.timestamp else None
        return clock.iso(moment) if moment else clock.now_iso()


class VoiceRequest(CallForm):
    """The TwiML request: a new call, or the action of our own <Dial>/<Record> on that call."""

    dial_call_status: str | None = Field(default=None, alias="DialCallStatus")
    recording_url: str | None = Field(default=None, alias="RecordingUrl")


class StatusCallback(CallForm):
    call_duration: int | None = Field(default=None, alias="CallDuration", ge=0)
    answered_by: str | None = Field(default=None, alias="AnsweredBy")
    sip_response_code: int | None = Field(default=None, alias="SipResponseCode")
    sequence_number: int | None = Field(default=None, alias="SequenceNumber")


class RecordingCallback(TwilioForm):
    recording_sid: str = Field(alias="RecordingSid", pattern=RECORDING_SID_PATTERN)
    recording_status: str = Field(alias="RecordingStatus", pattern=r"^(in-progress|completed|absent|failed)$")
    recording_url: str | None = Field(default=None, alias="RecordingUrl")
    recording_duration: int | None = Field(default=None, alias="RecordingDuration", ge=0)
    recording_channels: int | None = Field(default=None, alias="RecordingChannels", ge=1, le=2)
    recording_source: str | None = Field(default=None, alias="RecordingSource")
    recording_track: str | None = Field(default=None, alias="RecordingTrack")
    recording_start_time: str | None = Field(default=None, alias="RecordingStartTime")
    error_code: str | None = Field(default=None, alias="ErrorCode")

    @field_validator("error_code")
    @classmethod
    def _zero_is_no_error(cls, value: str | None) -> str | None:
        return None if value == "0" else value  # Twilio sends ErrorCode=0 on success


class CreateCallRequest(BaseModel):
    """`POST /calls`: ring `to`, and when they answer, connect them to `connectTo`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True, defer_build=True)

    to: E164
    connect_to: E164 = Field(alias="connectTo")
    from_number: E164 | None = Field(default=None, alias="from")
