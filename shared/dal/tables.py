"""The pynamodb models of the two product tables: the schema's source of truth (docs/data-model.md).

The adapters, `shared.bootstrap`, infra's tables and Glue definitions and `shared.analytics.schema`
derive from these. Table names are bound at run time (`calls_model(name)`, one class and so one
connection per table per process). A new attribute must be classified in `shared/analytics/schema.py`.
The calls table has a stream of both images of every write (`CALLS_STREAM_VIEW`): the outbox
(`functions/outbox`) announces each change of a call from it, and the live feed (`functions/call_feed`)
shows it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Final, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, Index, KeysOnlyProjection
from pynamodb.models import Model

M = TypeVar("M", bound=Model)

__all__ = [
    "CALLS_BY_DAY_INDEX",
    "CALLS_STREAM_VIEW",
    "CALLS_TO_SWEEP_INDEX",
    "AlignmentAttribute",
    "BilledAttribute",
    "CallRecord",
    "CallsByDayIndex",
    "CallsToSweepIndex",
    "CostAttribute",
    "EvaluationAttribute",
    "GapAttribute",
    "RecordingAttribute",
    "TranscriptSegment",
    "calls_model",
    "segments_model",
]

CALLS_BY_DAY_INDEX = "calls_by_day"
CALLS_TO_SWEEP_INDEX = "calls_to_sweep"
CALLS_STREAM_VIEW: Final = "NEW_AND_OLD_IMAGES"  # the outbox compares each write's old and new image


class RecordingAttribute(MapAttribute[str, Any]):
    """The call's recording as the recording status callback reported it."""

    sid = UnicodeAttribute()
    url = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    duration_seconds = NumberAttribute(null=True)
    channels = NumberAttribute(null=True)
    source = UnicodeAttribute(null=True)
    track = UnicodeAttribute(null=True)
    started_at = UnicodeAttribute(null=True)
    error_code = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class GapAttribute(MapAttribute[str, Any]):
    """A window of one track's stream time filled in from the recording (shared.dal.records.Gap)."""

    track = UnicodeAttribute()
    start = NumberAttribute()
    end = NumberAttribute()


class AlignmentAttribute(MapAttribute[str, Any]):
    """How recording time was mapped to stream time: stream = recording + `offset_seconds`."""

    offset_seconds = NumberAttribute()
    method = UnicodeAttribute()  # words | timestamps | none
    matches = NumberAttribute()  # words both sources heard that agreed on the offset


class BilledAttribute(MapAttribute[str, Any]):
    """What Twilio billed for this leg, as its REST API reports it once final (shared.costs: Twilio's
    negative `price` stored as a positive charge, in `price_unit`). A part is absent until known."""

    twilio_voice = NumberAttribute(null=True)  # the call's `price` (connectivity only)
    twilio_recording = NumberAttribute(null=True)  # its completed recordings' `price`s, summed
    total = NumberAttribute(null=True)  # their sum, once every part Twilio bills is known
    price_unit = UnicodeAttribute(null=True)  # e.g. USD
    read_at = UnicodeAttribute(null=True)  # when the sweeper read it


class CostAttribute(MapAttribute[str, Any]):
    """What the call cost, estimated from its own record and the configured prices (shared.costs).

    Each part in USD; `total_usd` is their sum. A record covers its own leg only: a forwarded call's
    dialled leg has its own record and cost, so "what did this call cost" sums a call and its legs.
    `billed` beside it is what Twilio billed for its share, once Twilio says.
    """

    total_usd = NumberAttribute()
    twilio_voice_usd = NumberAttribute(null=True)
    twilio_recording_usd = NumberAttribute(null=True)
    deepgram_live_usd = NumberAttribute(null=True)
    deepgram_prerecorded_usd = NumberAttribute(null=True)
    claude_usd = NumberAttribute(null=True)
    tts_usd = NumberAttribute(null=True)
    voice_minutes = NumberAttribute(null=True)  # billed minutes (Twilio rounds each leg up)
    recording_minutes = NumberAttribute(null=True)
    live_track_minutes = NumberAttribute(null=True)  # audio minutes sent to Deepgram live, per track
    prerecorded_minutes = NumberAttribute(null=True)  # recording minutes transcribed in batch, per channel
    prices_as_of = UnicodeAttribute(null=True)  # the date of the price table used
    estimated_at = UnicodeAttribute(null=True)
    billed = BilledAttribute(null=True)  # Twilio's bill for the leg, once read (not part of total_usd)


class EvaluationAttribute(MapAttribute[str, Any]):
    """One evaluation question's answer (scorecard), as the summary's model call gave it."""

    id = UnicodeAttribute()
    question = UnicodeAttribute(null=True)
    type = UnicodeAttribute(null=True)  # yes_no | choice | number | text
    answer = UnicodeAttribute(null=True)  # the answer as text; absent when the transcript cannot tell
    answer_bool = BooleanAttribute(null=True)  # yes_no
    answer_number = NumberAttribute(null=True)  # number
    evidence = ListAttribute[Any](of=UnicodeAttribute, null=True)  # segment keys of the supporting lines
    answered_by = UnicodeAttribute(null=True)  # the model id, or `offline` for the local stand-in


class CallsByDayIndex(GlobalSecondaryIndex["CallRecord"]):
    """Calls of one UTC day ordered by start: the analysts' and the dashboard's natural query."""

    class Meta:
        index_name = CALLS_BY_DAY_INDEX
        projection = AllProjection()

    call_date = UnicodeAttribute(hash_key=True)
    started_at = UnicodeAttribute(range_key=True)


class CallsToSweepIndex(GlobalSecondaryIndex["CallRecord"]):
    """Sparse: only calls that may still need the sweeper carry `sweep_shard`, so only they are here.

    The partition is one of a few fixed shards (`shared.dal.keys.sweep_shard`), so no single index
    partition takes every call's write; the sort key is when the sweeper's patience starts counting.
    Keys only: the sweeper reads each due call itself (consistently), and attributes outside the keys
    never cost an index write when the streamer or the summaries update the item.
    """

    class Meta:
        index_name = CALLS_TO_SWEEP_INDEX
        projection = KeysOnlyProjection()

    sweep_shard = UnicodeAttribute(hash_key=True)
    sweep_after = UnicodeAttribute(range_key=True)


class CallRecord(Model):
    """The call detail record (CDR), one item per Twilio call SID."""

    class Meta:
        table_name = "unbound-calls"  # replaced by calls_model(); never used directly
        # every change as (old, new) images: the outbox and the live feed read them; infra enables
        # the same stream on the deployed table
        stream_view_type = CALLS_STREAM_VIEW

    call_sid = UnicodeAttribute(hash_key=True)
    account_sid = UnicodeAttribute(null=True)
    parent_call_sid = UnicodeAttribute(null=True)
    direction = UnicodeAttribute(null=True)  # inbound | outbound-api | outbound-dial
    from_number = UnicodeAttribute(null=True)
    to_number = UnicodeAttribute(null=True)
    forwarded_from = UnicodeAttribute(null=True)
    caller_name = UnicodeAttribute(null=True)
    from_city = UnicodeAttribute(null=True)
    from_state = UnicodeAttribute(null=True)
    from_zip = UnicodeAttribute(null=True)
    from_country = UnicodeAttribute(null=True)
    to_city = UnicodeAttribute(null=True)
    to_state = UnicodeAttribute(null=True)
    to_zip = UnicodeAttribute(null=True)
    to_country = UnicodeAttribute(null=True)

    route = UnicodeAttribute(null=True)  # forward | voicemail | agent | outbound
    connect_to = UnicodeAttribute(null=True)  # the party dialled, when there is one
    language = UnicodeAttribute(null=True)  # the route's transcription language, when it names one
    stt_model = UnicodeAttribute(null=True)  # the route's Deepgram model, when it names one
    recording_expected = BooleanAttribute(null=True)  # False: the route records nothing

    status = UnicodeAttribute(null=True)
    status_rank = NumberAttribute(null=True)
    status_history = MapAttribute[str, Any](null=True)  # status -> ISO time first seen
    answered_by = UnicodeAttribute(null=True)
    sip_response_code = NumberAttribute(null=True)
    started_at = UnicodeAttribute(null=True)
    answered_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    duration_seconds = NumberAttribute(null=True)
    call_date = UnicodeAttribute(null=True)  # YYYY-MM-DD (UTC) of started_at, for calls_by_day

    recording = RecordingAttribute(null=True)
    leg_call_sids = UnicodeSetAttribute(null=True)  # this call's <Dial>ed legs (their own records)

    stream_sid = UnicodeAttribute(null=True)
    transcript_status = UnicodeAttribute(null=True)  # shared.status.TranscriptStatus
    transcript_error = UnicodeAttribute(null=True)
    segment_count = NumberAttribute(null=True)
    transcript_completed_at = UnicodeAttribute(null=True)
    stream_started_at = UnicodeAttribute(null=True)  # wall-clock UTC time of stream time 0
    stream_owner = UnicodeAttribute(null=True)  # the stream that claimed the call (a per-connection id)
    stream_heartbeat_at = UnicodeAttribute(null=True)  # the owning stream's latest sign of life
    transcript_swept_at = UnicodeAttribute(null=True)  # the sweeper ended (and announced) the transcript

    # the recordings tier: the recording's copy and its reconciliation with the live transcript
    recording_s3_key = UnicodeAttribute(null=True)
    transcript_source = UnicodeAttribute(null=True)  # live | live+recording | recording
    live_coverage = NumberAttribute(null=True)  # 0..1
    gaps = ListAttribute[Any](of=GapAttribute, null=True)  # written as plain maps, like `recording`
    filled_seconds = NumberAttribute(null=True)
    transcript_version = UnicodeAttribute(null=True)  # digest of the final transcript
    alignment = AlignmentAttribute(null=True)
    reconciled_at = UnicodeAttribute(null=True)
    reconciled_transcript_status = UnicodeAttribute(null=True)  # the live transcript's status then
    reconciled_segment_count = NumberAttribute(null=True)  # segments of the final transcript (live + filled)

    # what the call cost, what redaction took out of its transcript, its evaluation answers
    live_audio_seconds = NumberAttribute(null=True)  # track-seconds of audio sent to Deepgram live
    tts_characters = NumberAttribute(null=True)  # characters the agent sent to Deepgram TTS
    redaction_counts = MapAttribute[str, Any](null=True)  # kind -> replacements in live segments
    recording_redaction_counts = MapAttribute[str, Any](null=True)  # the same, in recording segments
    cost = CostAttribute(null=True)
    evaluations = ListAttribute[Any](of=EvaluationAttribute, null=True)  # written as plain maps
    evaluations_version = UnicodeAttribute(null=True)  # digest of the question set answered

    summary = MapAttribute[str, Any](null=True)  # structured summary, see functions/summaries
    summary_status = UnicodeAttribute(null=True)
    summary_created_at = UnicodeAttribute(null=True)

    # the sweeper: present while the call may still need it, removed once it is settled
    sweep_shard = UnicodeAttribute(null=True)  # calls_to_sweep partition: "0".."7"
    sweep_after = UnicodeAttribute(null=True)  # patience counts from here: ended_at, or a re-drive's backoff
    sweep_attempts = NumberAttribute(null=True)  # times the sweeper re-drove (or waited for) this call
    swept_at = UnicodeAttribute(null=True)  # the sweeper's latest write
    sweep_gave_up_at = UnicodeAttribute(null=True)  # out of attempts: left for an operator (alarm)
    twilio_asks = NumberAttribute(null=True)  # the sweeper's reads of Twilio's REST API that left it open
    twilio_asked_at = UnicodeAttribute(null=True)  # the latest of them

    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    calls_by_day = CallsByDayIndex()
    calls_to_sweep = CallsToSweepIndex()


class TranscriptSegment(Model):
    """One final transcript segment: a stretch of one track's speech, timed in stream seconds."""

    class Meta:
        table_name = "unbound-transcripts"

    call_sid = UnicodeAttribute(hash_key=True)
    segment_key = UnicodeAttribute(range_key=True)  # see shared.dal.keys.segment_key()
    track = UnicodeAttribute()  # inbound | outbound
    speaker = UnicodeAttribute()  # caller | callee | agent
    text = UnicodeAttribute()
    start = NumberAttribute()  # seconds from the start of the media stream
    end = NumberAttribute()
    confidence = NumberAttribute(null=True)
    language = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)  # e.g. the Deepgram model that produced it
    origin = UnicodeAttribute(null=True)  # "recording" when filled in from the recording; absent = live
    stream_owner = UnicodeAttribute(null=True)  # live: the stream that wrote it (the call's owner)
    created_at = UnicodeAttribute(null=True)


def _bind(base: type[M], table_name: str) -> type[M]:
    attrs: dict[str, Any] = {"table_name": table_name}
    stream_view_type = getattr(base.Meta, "stream_view_type", None)
    if stream_view_type is not None:
        attrs["stream_view_type"] = stream_view_type  # `create_table` (bootstrap) enables the stream
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        attrs["region"] = region
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        attrs["host"] = endpoint
    namespace: dict[str, Any] = {"Meta": type("Meta", (), attrs), "__module__": base.__module__}
    # Index objects point back at one model class; give each bound class its own so that querying
    # an index on it queries its own table.
    for name, member in vars(base).items():
        if isinstance(member, Index):
            namespace[name] = type(member)()
    return type(f"{base.__name__}[{table_name}]", (base,), namespace)


@cache
def calls_model(table_name: str) -> type[CallRecord]:
    """The CallRecord model bound to `table_name` (one class, one connection, per process)."""
    return _bind(CallRecord, table_name)


@cache
def segments_model(table_name: str) -> type[TranscriptSegment]:
    """The TranscriptSegment model bound to `table_name`."""
    return _bind(TranscriptSegment, table_name)
