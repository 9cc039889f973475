"""The answer of `GET /calls/{callSid}`: the CDR, one page of its final transcript and its summary, typed.

Both APIs that answer it use this one view: the machines' IAM route (functions/webhooks) and the
people's read API (functions/console_api), each through `describe_call` over its own read ports.
Must keep: the keys are the contract's (camelCase, in this order, null when unknown); field names
stay snake_case like the stored attributes, with aliases for the JSON; a new field is a field on a
model, never a dict key spelled again in a test. docs/data-model.md says what each field means;
docs/architecture.md, "`GET /calls/{callSid}`", how the transcript is paged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.dal.ports import CallReader, SegmentPageReader
from shared.dal.records import Call, Gap, Number, Origin, Recording, Segment
from shared.errors import CallNotFoundError
from shared.transcript_pages import TranscriptPage, encode_cursor


class _View(BaseModel):
    """`defer_build`: only `GET /calls/{callSid}` uses these, so they are built by its first request."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid", defer_build=True)


class RecordingView(_View):
    sid: str
    url: str | None
    status: str | None
    duration_seconds: Number | None = Field(alias="durationSeconds")
    channels: Number | None

    @classmethod
    def of(cls, recording: Recording) -> RecordingView:
        return cls(
            sid=recording.sid,
            url=recording.url,
            status=recording.status,
            duration_seconds=recording.duration_seconds,
            channels=recording.channels,
        )


class BilledView(_View):
    """What Twilio billed for this leg, as its REST API reported it once final (docs/costs.md, "Billed
    by Twilio"): charges positive, in `priceUnit`; a part is null until Twilio priced it, `total`
    until every part is known."""

    twilio_voice: Number | None = Field(None, alias="twilioVoice")
    twilio_recording: Number | None = Field(None, alias="twilioRecording")
    total: Number | None = None
    price_unit: str | None = Field(None, alias="priceUnit")
    read_at: str | None = Field(None, alias="readAt")


class CostView(_View):
    """What the call (this leg) cost, USD, estimated from its record and the configured prices
    (shared.costs); a part is null when the call has none of it. `billed`: Twilio's own figure for
    its share (voice and recording), beside the estimate; null until the sweeper has read it."""

    total_usd: Number = Field(alias="totalUsd")
    twilio_voice_usd: Number | None = Field(None, alias="twilioVoiceUsd")
    twilio_recording_usd: Number | None = Field(None, alias="twilioRecordingUsd")
    deepgram_live_usd: Number | None = Field(None, alias="deepgramLiveUsd")
    deepgram_prerecorded_usd: Number | None = Field(None, alias="deepgramPrerecordedUsd")
    claude_usd: Number | None = Field(None, alias="claudeUsd")
    tts_usd: Number | None = Field(None, alias="ttsUsd")
    voice_minutes: Number | None = Field(None, alias="voiceMinutes")
    recording_minutes: Number | None = Field(None, alias="recordingMinutes")
    live_track_minutes: Number | None = Field(None, alias="liveTrackMinutes")
    prerecorded_minutes: Number | None = Field(None, alias="prerecordedMinutes")
    prices_as_of: str | None = Field(None, alias="pricesAsOf")
    estimated_at: str | None = Field(None, alias="estimatedAt")
    billed: BilledView | None = None

    @classmethod
    def of(cls, cost: dict[str, Any]) -> CostView:
        """The stored map's known fields (one a newer writer adds is left out, never an error)."""
        known = {name: value for name, value in cost.items() if name in cls.model_fields and name != "billed"}
        billed = cost.get("billed")
        if isinstance(billed, dict):
            fields = BilledView.model_fields
            known["billed"] = BilledView.model_validate({k: v for k, v in billed.items() if k in fields})
        return cls.model_validate(known)


class LegView(_View):
    """A `<Dial>`ed party's leg of this call: its own Twilio call, record and cost (docs/costs.md)."""

    call_sid: str = Field(alias="callSid")
    direction: str | None
    to_number: str | None = Field(alias="to")
    status: str | None
    duration_seconds: Number | None = Field(alias="durationSeconds")
    cost: CostView | None

    @classmethod
    def of(cls, leg: Call) -> LegView:
        return cls(
            call_sid=leg.call_sid,
            direction=leg.direction,
            to_number=leg.to_number,
            status=leg.status,
            duration_seconds=leg.duration_seconds,
            cost=None if leg.cost is None else CostView.of(leg.cost),
        )


def conversation_cost(call: Call, legs: Iterable[Call]) -> Number | None:
    """What the conversation cost, USD: the call's total and its legs'; None until every part has one
    (a leg not yet priced would make the sum look final while it is not)."""
    totals = [record.cost.get("total_usd") if record.cost else None for record in (call, *legs)]
    if any(total is None for total in totals):
        return None
    return round(sum(float(total) for total in totals if total is not None), 6)


class GapView(_View):
    """A window of one track's stream time filled in from the recording."""

    track: str
    start: float
    end: float

    @classmethod
    def of(cls, gap: Gap) -> GapView:
        return cls(track=gap.track, start=gap.start, end=gap.end)


class TranscriptLineView(_View):
    track: str
    speaker: str
    text: str
    start: float  # seconds from the start of the media stream
    end: float
    source: Origin  # which transcript the segment comes from: `live`, or `recording` when filled in
    # the segment's sort key: stable, unique in its call, what the live feed's `segment` messages
    # carry too, so a client that loaded the transcript and then follows the feed de-duplicates by it
    segment_id: str = Field(alias="segmentId")

    @classmethod
    def of(cls, segment: Segment) -> TranscriptLineView:
        return cls(
            track=segment.track,
            speaker=segment.speaker,
            text=segment.text,
            start=segment.start,
            end=segment.end,
            source=segment.origin_or_live,
            segment_id=segment.segment_key,
        )


class CallView(_View):
    call_sid: str = Field(alias="callSid")
    status: str | None
    direction: str | None
    from_number: str | None = Field(alias="from")
    to_number: str | None = Field(alias="to")
    route: str | None
    connect_to: str | None = Field(alias="connectTo")
    parent_call_sid: str | None = Field(alias="parentCallSid")
    started_at: str | None = Field(alias="startedAt")
    answered_at: str | None = Field(alias="answeredAt")
    ended_at: str | None = Field(alias="endedAt")
    duration_seconds: Number | None = Field(alias="durationSeconds")
    answered_by: str | None = Field(alias="answeredBy")
    recording: RecordingView | None
    # False: the route records nothing, so no recording will be reconciled (null: not known)
    recording_expected: bool | None = Field(alias="recordingExpected")
    cost: CostView | None
    legs: list[LegView]  # the <Dial>ed parties' legs, each priced on its own record
    conversation_cost_usd: Number | None = Field(alias="conversationCostUsd")  # cost + the legs' costs
    transcript_status: str | None = Field(alias="transcriptStatus")
    transcript_source: str | None = Field(alias="transcriptSource")  # live | live+recording | recording
    # the reconciled transcript's digest; a summary written from it names it (`transcript_version`)
    transcript_version: str | None = Field(alias="transcriptVersion")
    # the live transcript's status the reconciliation was made against: while it is not final, the
    # recording is reconciled again once live ends (null until reconciled)
    reconciled_transcript_status: str | None = Field(alias="reconciledTranscriptStatus")
    live_coverage: Number | None = Field(alias="liveCoverage")  # 0..1
    gaps: list[GapView] | None
    transcript: list[TranscriptLineView]
    transcript_next_cursor: str | None = Field(alias="transcriptNextCursor")
    summary_status: str | None = Field(alias="summaryStatus")
    summary: dict[str, Any] | None
    # evaluation answers (shared/evaluations.py), stored maps as they are, and their question set
    evaluations: list[dict[str, Any]] | None
    evaluations_version: str | None = Field(alias="evaluationsVersion")

    @classmethod
    def of(
        cls,
        call: Call,
        segments: Iterable[Segment],
        next_cursor: str | None = None,
        legs: Iterable[Call] = (),
    ) -> CallView:
        """The view of a stored call with one page of its transcript (`next_cursor` None: the last)
        and its legs' records.

        Segments are in sort-key order (`segment_key`: start in milliseconds, then track), which is
        the order the table pages in, so the pages of a transcript concatenate to the same order as
        reading it whole. (Sorting on the float `start` instead could reorder two tracks' segments
        within one millisecond differently inside a page than across a page boundary.)
        """
        ordered = sorted(segments, key=lambda s: s.segment_key)
        legs = sorted(legs, key=lambda leg: (leg.started_at or "", leg.call_sid))
        return cls(
            call_sid=call.call_sid,
            status=call.status,
            direction=call.direction,
            from_number=call.from_number,
            to_number=call.to_number,
            route=call.route,
            connect_to=call.connect_to,
            parent_call_sid=call.parent_call_sid,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            duration_seconds=call.duration_seconds,
            answered_by=call.answered_by,
            recording=None if call.recording is None else RecordingView.of(call.recording),
            recording_expected=call.recording_expected,
            cost=None if call.cost is None else CostView.of(call.cost),
            legs=[LegView.of(leg) for leg in legs],
            conversation_cost_usd=conversation_cost(call, legs),
            transcript_status=call.transcript_status,
            transcript_source=call.transcript_source,
            transcript_version=call.transcript_version,
            reconciled_transcript_status=call.reconciled_transcript_status,
            live_coverage=call.live_coverage,
            gaps=None if call.gaps is None else [GapView.of(gap) for gap in call.gaps],
            transcript=[TranscriptLineView.of(segment) for segment in ordered],
            transcript_next_cursor=next_cursor,
            summary_status=call.summary_status,
            summary=call.summary,
            evaluations=None if call.evaluations is None else [dict(e) for e in call.evaluations],
            evaluations_version=call.evaluations_version,
        )

    def as_json(self) -> dict[str, Any]:
        """The contract's JSON object (aliases as keys, every key present, unknown values null)."""
        return self.model_dump(by_alias=True)


def describe_call(
    call_sid: str, calls: CallReader, segments: SegmentPageReader, page: TranscriptPage | None = None
) -> CallView:
    """The call with one page of its transcript (the first by default), the cursor to the next, and
    its legs' records; CallNotFoundError when nothing is stored for it."""
    call = calls.get(call_sid)
    if call is None:
        raise CallNotFoundError(f"no call {call_sid}")
    page = page or TranscriptPage()
    stored = segments.page_segments(call_sid, limit=page.limit, after=page.after)
    next_cursor = None if stored.next_key is None else encode_cursor(call_sid, stored.next_key)
    legs = [leg for sid in call.leg_call_sids or () if (leg := calls.get(sid)) is not None]
    return CallView.of(call, stored.segments, next_cursor, legs)
