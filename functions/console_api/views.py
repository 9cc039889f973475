"""What the people's read API answers for the call list and a recording link (camelCase, typed).

A call in the list carries at least what the contract names (`callSid`, `startedAt`, `direction`,
`route`, `status`, `durationSeconds`, `transcriptStatus`) plus what the console shows in a row: the
parties, the end, `live` (its status is not terminal) and `costTotal` (the call's own estimate,
null until priced). A call's page is `shared.call_view.CallView`, as the IAM route answers it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.dal.records import Call, Number
from shared.status import TERMINAL_RANK


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class CallListItemView(_View):
    call_sid: str = Field(alias="callSid")
    started_at: str | None = Field(alias="startedAt")
    ended_at: str | None = Field(alias="endedAt")
    direction: str | None
    route: str | None
    status: str | None
    duration_seconds: Number | None = Field(alias="durationSeconds")
    transcript_status: str | None = Field(alias="transcriptStatus")
    from_number: str | None = Field(alias="from")
    to_number: str | None = Field(alias="to")
    live: bool
    cost_total: Number | None = Field(alias="costTotal")

    @classmethod
    def of(cls, call: Call) -> CallListItemView:
        total = (call.cost or {}).get("total_usd")
        return cls(
            call_sid=call.call_sid,
            started_at=call.started_at,
            ended_at=call.ended_at,
            direction=call.direction,
            route=call.route,
            status=call.status,
            duration_seconds=call.duration_seconds,
            transcript_status=call.transcript_status,
            from_number=call.from_number,
            to_number=call.to_number,
            live=call.status_rank is None or call.status_rank < TERMINAL_RANK,
            cost_total=total,
        )


class RecordingLinkView(_View):
    """A short-lived link to the stored copy of the call's recording, and where it sits in stream
    time: a segment's player time is its `start` minus `offsetSeconds`."""

    url: str
    expires_at: str = Field(alias="expiresAt")
    offset_seconds: float = Field(alias="offsetSeconds")
    # how the offset was found: `words` (the reconciliation aligned the transcripts), `timestamps`
    # (stream and recording start times, good to about a second) or `none` (neither known: 0)
    offset_method: str = Field(alias="offsetMethod")
