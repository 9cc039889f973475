"""The records the data layer takes and hands back: plain frozen dataclasses, never pynamodb objects.

Callers read `call.duration_seconds` as an int and `call.summary` as a dict whatever the storage
library returned (pynamodb maps, floats, boto3's `Decimal`), so no tier carries a normaliser of its
own. The tests' in-memory fakes build the same records with `Call.from_item`, which keeps fakes and
adapters comparable. Must keep: nothing here imports pynamodb or boto3.
~560 lines because every port's inputs and outputs live here together: one small dataclass each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Literal

from shared.dal.keys import check_recording_key

Number = int | float


def number(value: Any) -> Number | None:
    """A stored number as JSON shows it: `32`, not `32.0` (DynamoDB keeps no int/float distinction)."""
    if value is None:
        return None
    converted = float(value)
    return int(converted) if converted.is_integer() else converted


def plain(value: Any) -> Any:
    """A stored value as plain JSON-able Python: maps as dicts, lists as lists, numbers via `number`."""
    if hasattr(value, "as_dict"):  # a pynamodb map attribute, typed or raw
        value = value.as_dict()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return number(value)
    return value


LIVE: Final = "live"
RECORDING: Final = "recording"
Origin = Literal["live", "recording"]


def check_recording_segment(segment: Segment) -> None:
    """Refuse a segment that is not the recording's (its key and its `origin`)."""
    check_recording_key(segment.segment_key)
    if not segment.from_recording:
        raise ValueError(f"segment {segment.segment_key} is not marked origin={RECORDING}")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """The call's recording as the recording status callback last reported it."""

    sid: str
    url: str | None = None
    status: str | None = None
    duration_seconds: Number | None = None
    channels: Number | None = None
    source: str | None = None
    track: str | None = None
    started_at: str | None = None
    error_code: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Recording:
        values = _known(cls, item)
        for name in ("duration_seconds", "channels"):
            if name in values:
                values[name] = number(values[name])
        return cls(**values)


@dataclass(frozen=True)
class CallParties:
    """Who and where: what Twilio tells us about the two ends of a call (all optional)."""

    account_sid: str | None = None
    parent_call_sid: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    forwarded_from: str | None = None
    caller_name: str | None = None
    from_city: str | None = None
    from_state: str | None = None
    from_zip: str | None = None
    from_country: str | None = None
    to_city: str | None = None
    to_state: str | None = None
    to_zip: str | None = None
    to_country: str | None = None

    def present(self) -> dict[str, str]:
        """The fields Twilio actually sent (blank strings, like `ToZip=`, count as absent)."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name))}


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(CallParties):
    """The call detail record (CDR) as stored: every attribute of docs/data-model.md, None when absent.

    The parties' fields are `CallParties`' own (what the voice webhook writes is what is read back).
    """

    call_sid: str
    route: str | None = None
    connect_to: str | None = None
    language: str | None = None
    stt_model: str | None = None
    recording_expected: bool | None = None
    status: str | None = None
    status_rank: int | None = None
    status_history: dict[str, str] | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None
    started_at: str | None = None
    answered_at: str | None = None
    ended_at: str | None = None
    duration_seconds: Number | None = None
    call_date: str | None = None
    recording: Recording | None = None
    leg_call_sids: tuple[str, ...] | None = None
    stream_sid: str | None = None
    transcript_status: str | None = None
    transcript_error: str | None = None
    segment_count: int | None = None
    transcript_completed_at: str | None = None
    stream_started_at: str | None = None
    stream_owner: str | None = None
    stream_heartbeat_at: str | None = None
    transcript_swept_at: str | None = None
    recording_s3_key: str | None = None
    transcript_source: str | None = None
    live_coverage: Number | None = None
    gaps: tuple[Gap, ...] | None = None
    filled_seconds: Number | None = None
    transcript_version: str | None = None
    alignment: dict[str, Any] | None = None
    reconciled_at: str | None = None
    reconciled_transcript_status: str | None = None
    reconciled_segment_count: int | None = None
    live_audio_seconds: Number | None = None
    tts_characters: int | None = None
    redaction_counts: dict[str, int] | None = None
    recording_redaction_counts: dict[str, int] | None = None
    cost: dict[str, Any] | None = None  # shared.dal.tables.CostAttribute's fields
    evaluations: tuple[dict[str, Any], ...] | None = None  # EvaluationAttribute's fields, one per question
    evaluations_version: str | None = None
    summary: dict[str, Any] | None = None
    summary_status: str | None = None
    summary_created_at: str | None = None
    sweep_shard: str | None = None
    sweep_after: str | None = None
    sweep_attempts: int | None = None
    swept_at: str | None = None
    sweep_gave_up_at: str | None = None
    twilio_asks: int | None = None
    twilio_asked_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Call:
        """A record from stored attributes (names as in the table); unknown attributes are ignored,
        so an attribute a newer writer adds never breaks an older reader."""
        values = _known(cls, item)
        for name in (
            "status_rank",
            "sip_response_code",
            "segment_count",
            "reconciled_segment_count",
            "sweep_attempts",
            "tts_characters",
            "twilio_asks",
        ):
            if name in values:
                values[name] = _int(values[name])
        for name in ("duration_seconds", "live_coverage", "filled_seconds", "live_audio_seconds"):
            if name in values:
                values[name] = number(values[name])
        if "gaps" in values:
            values["gaps"] = tuple(Gap.from_item(gap) for gap in plain(values["gaps"]))
        if "recording" in values:
            values["recording"] = Recording.from_item(plain(values["recording"]))
        if "leg_call_sids" in values:
            values["leg_call_sids"] = tuple(sorted(values["leg_call_sids"]))
        for name in ("status_history", "summary", "alignment", "cost"):
            if name in values:
                values[name] = plain(values[name])
        for name in ("redaction_counts", "recording_redaction_counts"):
            if name in values:
                values[name] = {str(k): int(v) for k, v in plain(values[name]).items()}
        if "evaluations" in values:
            values["evaluations"] = tuple(plain(values["evaluations"]))
        return cls(**values)


@dataclass(frozen=True)
class EvaluationSet:
    """Evaluation answers to store (`evaluations`, EvaluationAttribute's fields as plain maps) and
    the digest of the question set they answer (`evaluations_version`)."""

    version: str
    answers: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One final transcript segment: a stretch of one track's speech, timed in stream seconds."""

    call_sid: str
    segment_key: str  # see shared.dal.keys
    track: str
    speaker: str
    text: str
    start: float
    end: float
    confidence: float | None = None
    language: str | None = None
    source: str | None = None  # what produced it: the engine and model, e.g. `deepgram:nova-3`
    origin: str | None = None  # `recording` when filled in from the recording; absent = live
    created_at: str | None = None  # set by the adapter at write time when left None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Segment:
        values = _known(cls, item)
        for name in ("start", "end", "confidence"):
            if name in values:
                values[name] = float(values[name])
        return cls(**values)

    @property
    def from_recording(self) -> bool:
        """True for a segment the reconciliation added; every segment stored before it is live."""
        return self.origin == RECORDING

    @property
    def origin_or_live(self) -> Origin:
        """`live` or `recording`: what GET /calls reports as the segment's `source`."""
        return RECORDING if self.from_recording else LIVE


@dataclass(frozen=True, slots=True)
class Gap:
    """A window of one track's stream time in which words were added from the recording."""

    track: str
    start: float
    end: float

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Gap:
        return cls(track=str(item["track"]), start=float(item["start"]), end=float(item["end"]))

    def as_item(self) -> dict[str, Any]:
        return {"track": self.track, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class SegmentPage:
    """One page of a call's segments in sort-key order, and where the next page starts.

    `next_key` is the `segment_key` of the page's last segment when more may follow (pass it back
    as `after`), None when the page ends the transcript.
    """

    segments: list[Segment]
    next_key: str | None


def _known(cls: type[Any], item: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: item[f.name] for f in fields(cls) if item.get(f.name) is not None}


# ---- what the webhooks write -------------------------------------------------------------------


@dataclass(frozen=True)
class CallUpsert:
    """The voice webhook (or POST /calls) saying a call exists, who is on it and where it goes."""

    call_sid: str
    parties: CallParties
    started_at: str  # ISO-8601; kept from the first write that sets it
    route: str | None = None
    connect_to: str | None = None
    language: str | None = None  # the route's transcription language, when it names one
    stt_model: str | None = None  # the route's Deepgram model, when it names one
    recording_expected: bool | None = None  # False: the route records nothing (live transcript only)


@dataclass(frozen=True)
class StatusAdvance:
    """One status write, applied only when `rank` is above the stored rank (never backwards).

    The webhooks tier decides what a status means (which times it sets); the store only guarantees
    the order. `answered_at` and the first-seen start keep their first value; `ended_at` and
    `duration_seconds` are written with the status, so with the terminal rank they are written once.
    """

    call_sid: str
    status: str
    rank: int
    at: str  # ISO-8601 time the status was reached: its status_history entry and, if unset, started_at
    answered_at: str | None = None
    ended_at: str | None = None
    duration_seconds: int | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None
    parties: CallParties | None = None  # only fills gaps: the voice webhook is their authority
    # When the sweeper's patience starts (the calls_to_sweep marker): the terminal status sets it to
    # `ended_at`, replacing what was there; an earlier status sets a fallback only if none is set.
    sweep_after: str | None = None


@dataclass(frozen=True)
class RecordingUpdate:
    """A recording status callback; a report other than `completed` never replaces a completed one."""

    call_sid: str
    sid: str
    status: str
    url: str | None = None
    duration_seconds: int | None = None
    channels: int | None = None
    source: str | None = None
    track: str | None = None
    started_at: str | None = None
    error_code: str | None = None

    def as_item(self, updated_at: str) -> dict[str, Any]:
        item: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "call_sid"}
        item["updated_at"] = updated_at
        return {key: value for key, value in item.items() if value is not None}


RECORDING_COMPLETED = "completed"


@dataclass(frozen=True, kw_only=True)
class ReconciliationUpdate:
    """What the recordings tier stores on the call once the recording is reconciled.

    `transcript_version` names the final transcript (a digest of its segments), so a repeated
    reconciliation of the same transcript is recognised and the summaries know which one they read.
    """

    call_sid: str
    transcript_source: str  # live | live+recording | recording
    segment_count: int  # segments of the final transcript (live kept + recording added)
    live_coverage: float
    gaps: tuple[Gap, ...]
    filled_seconds: float
    transcript_version: str
    alignment_offset: float  # stream time = recording time + offset (seconds)
    alignment_method: str  # words | timestamps | none
    alignment_matches: int
    # the live transcript's status when it was read (`in-progress`: reconciled early, to be redone
    # once the transcript is final); the sweeper reads it back as `reconciled_transcript_status`
    transcript_status: str
    # kind -> replacements in the recording segments (`recording_redaction_counts`); None: redaction
    # off, and nothing is written
    redaction_counts: Mapping[str, int] | None = None

    def alignment_item(self) -> dict[str, Any]:
        return {
            "offset_seconds": self.alignment_offset,
            "method": self.alignment_method,
            "matches": self.alignment_matches,
        }


@dataclass(frozen=True)
class StreamClaim:
    """A media stream taking its call: from then on only this stream writes the call's live
    transcript (segments, transcript status, usage, redaction counts).

    `owner` is an id the streamer makes for each connection, never anything copied from the stream's
    `start` (an attacker replaying a `start` copies all of it). `started_at` is stream time 0 on the
    wall clock (`stream_started_at`, which the recordings tier aligns against)."""

    call_sid: str
    owner: str
    stream_sid: str
    started_at: str


class TranscriptEnd(StrEnum):
    """What the owning stream's final transcript status write did."""

    ENDED = "ended"  # it ended the transcript: the stream announces it (`Transcript Completed`)
    AFTER_SWEEP = "after-sweep"  # stored over the sweeper's ending, which was announced already
    REFUSED = "refused"  # not this stream's call, or a failure it recorded earlier wins


@dataclass(frozen=True)
class SweepClaim:
    """The sweeper taking one due call for one attempt: the marker moves from `expected_after` (as
    read) to `next_after` only if nobody moved it meanwhile, so two overlapping runs never both
    re-drive the same call."""

    call_sid: str
    expected_after: str
    next_after: str  # the sweeper looks again its patience after this
    attempts: int  # this attempt's number, 1 for the first


@dataclass(frozen=True)
class SweepDeferral:
    """The sweeper looking at a call again later without a re-drive (it is still live at Twilio, or
    its price is not known yet): the marker moves from `expected_after` (as read) to `next_after`
    only if nobody moved it meanwhile. `twilio_asks`, when set, counts a read of Twilio's REST API
    that left the call open (the bound on how often one call is asked about)."""

    call_sid: str
    expected_after: str
    next_after: str
    twilio_asks: int | None = None


# ---- what the call's cost is computed from -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StreamUsage:
    """What the streamer used for one call: the cost inputs it alone knows, written at transcript end.

    `live_audio_seconds` sums every track's audio sent to Deepgram live (a replay after a reconnect
    is sent, and billed, again); `tts_characters` is the text an agent call sent to Deepgram TTS
    (None on calls with no agent)."""

    call_sid: str
    live_audio_seconds: float
    tts_characters: int | None = None


@dataclass(frozen=True, kw_only=True)
class CostBasis:
    """Every attribute of a call record its cost is computed from (`shared.costs`), as one read saw it.

    The cost is a pure function of this and the prices, and `CostWrites.save_cost` stores a cost
    only while the record still holds exactly this basis: a cost computed from a read that another
    writer has since overtaken is refused, whatever the clocks say (`updated_at` would not do: two
    writes can share its millisecond, and tests pin the clock). None means the attribute is absent.
    """

    direction: str | None = None
    status: str | None = None
    duration_seconds: Number | None = None
    recording_status: str | None = None
    recording_duration_seconds: Number | None = None
    recording_channels: Number | None = None
    recording_transcribed: bool = False  # the recordings tier reconciled it (`alignment` is stored)
    live_audio_seconds: Number | None = None
    tts_characters: int | None = None
    summary_cost_usd: Number | None = None  # the summary's `estimated_cost_usd`
    # what Twilio billed (`cost.billed`, read by the sweeper): carried into every recomputed cost, so a
    # cost computed from a read that predates it never lands over it
    billed_twilio_voice: Number | None = None
    billed_twilio_recording: Number | None = None
    billed_total: Number | None = None
    billed_price_unit: str | None = None
    billed_read_at: str | None = None

    @classmethod
    def of(cls, call: Call) -> CostBasis:
        recording = call.recording
        summary_cost = (call.summary or {}).get("estimated_cost_usd")
        billed = (call.cost or {}).get("billed") or {}
        return cls(
            direction=call.direction,
            status=call.status,
            duration_seconds=call.duration_seconds,
            recording_status=None if recording is None else recording.status,
            recording_duration_seconds=None if recording is None else recording.duration_seconds,
            recording_channels=None if recording is None else recording.channels,
            recording_transcribed=call.alignment is not None,
            live_audio_seconds=call.live_audio_seconds,
            tts_characters=call.tts_characters,
            summary_cost_usd=number(summary_cost),
            billed_twilio_voice=number(billed.get("twilio_voice")),
            billed_twilio_recording=number(billed.get("twilio_recording")),
            billed_total=number(billed.get("total")),
            billed_price_unit=billed.get("price_unit"),
            billed_read_at=billed.get("read_at"),
        )

    def billed(self) -> dict[str, Any] | None:
        """The `cost.billed` map this basis carries (None when Twilio's bill was never read)."""
        fields = {
            "twilio_voice": self.billed_twilio_voice,
            "twilio_recording": self.billed_twilio_recording,
            "total": self.billed_total,
            "price_unit": self.billed_price_unit,
            "read_at": self.billed_read_at,
        }
        present = {name: value for name, value in fields.items() if value is not None}
        return present or None

    def with_billed(self, billed: Mapping[str, Any]) -> CostBasis:
        """This basis with another `cost.billed` (what the sweeper read from Twilio)."""
        return replace(
            self,
            billed_twilio_voice=number(billed.get("twilio_voice")),
            billed_twilio_recording=number(billed.get("twilio_recording")),
            billed_total=number(billed.get("total")),
            billed_price_unit=billed.get("price_unit"),
            billed_read_at=billed.get("read_at"),
        )


@dataclass(frozen=True)
class CallListPosition:
    """Where a page of the call list ended: the day (YYYY-MM-DD, UTC) to read next and, within it,
    the last call already sent (None: from the day's newest call)."""

    day: str
    started_at: str | None = None
    call_sid: str | None = None


@dataclass(frozen=True, kw_only=True)
class CallListQuery:
    """Which calls, newest first: those started on `first_day` .. `last_day` (UTC days), within
    `started_from` .. `started_to` (ISO, inclusive; None: the days' bounds), that pass every filter
    given (None: no filter), at most `limit` of them, after `after` (a previous page's end)."""

    first_day: str
    last_day: str
    started_from: str | None = None
    started_to: str | None = None
    statuses: frozenset[str] | None = None
    route: str | None = None
    number: str | None = None  # our number: the call's `to` or its `from` (E.164)
    live_only: bool = False  # only calls whose status is not terminal
    limit: int = 50
    after: CallListPosition | None = None


@dataclass(frozen=True)
class CallListPage:
    """One page of the list, newest first, and where the next begins (None: the list ends here)."""

    calls: tuple[Call, ...]
    next: CallListPosition | None
