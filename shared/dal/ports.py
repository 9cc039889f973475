"""The narrow ports each tier holds on the two product tables (docs/architecture.md, "Data layer").

Each calls port has its own adapter in `shared/dal/calls/`; `DynamoSegments` implements the segments
ports. What a change must keep: a tier's IAM grant (infra) stays the mirror of its port's methods;
every write is one conditional or idempotent UpdateItem (or a keyed PutItem or BatchWriteItem of
segments), so any tier may create the call item first and a repeated write changes nothing; a write
answers False when its condition refused it and raises `shared.errors.StoreError` when the table
failed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from shared.dal.records import (
    Call,
    CallListPage,
    CallListQuery,
    CallUpsert,
    CostBasis,
    EvaluationSet,
    ReconciliationUpdate,
    RecordingUpdate,
    Segment,
    SegmentPage,
    StatusAdvance,
    StreamClaim,
    StreamUsage,
    SweepClaim,
    SweepDeferral,
    TranscriptEnd,
)
from shared.status import TranscriptStatus


class CallReader(Protocol):
    def get(self, call_sid: str) -> Call | None:
        """The call record (strongly consistent), or None when nothing was written for it yet."""
        ...


class CallListReader(Protocol):
    """The people's read API: the calls of a span of days, newest first, a page at a time."""

    def list_calls(self, query: CallListQuery) -> CallListPage:
        """At most `query.limit` calls (fewer when the days it may read in one page run out: then
        `next` says where to go on), through the calls_by_day index, never a scan; `<Dial>`ed legs
        are not listed (they belong to their call)."""
        ...


class CostWrites(CallReader, Protocol):
    """Every tier that changes what a call cost (webhooks, summaries, recordings): the cost map,
    recomputed by `shared.costs.record_cost` from a fresh read after the tier's own write; and the
    sweeper, which recomputes a settled call's cost when a tier's write did not land."""

    def save_cost(self, call_sid: str, cost: Mapping[str, Any], basis: CostBasis) -> bool:
        """Store `cost` (CostAttribute's fields) while the record still holds `basis` (what it was
        computed from); False when any of it changed since the read, or the call has no record."""
        ...


class CallStatusWrites(CostWrites, Protocol):
    """What Twilio reports about a call, however it came: the webhooks' callbacks, or the sweeper's
    reads of Twilio's REST API when a callback was lost. The same writes, so the same rules (and the
    outbox announces what they change)."""

    def advance_status(self, advance: StatusAdvance) -> bool:
        """Apply the status when it outranks the stored one; False when it is stale or repeated."""
        ...

    def update_recording(self, update: RecordingUpdate) -> bool:
        """Store the recording; False when a completed recording already outranks this report."""
        ...

    def add_leg(self, parent_call_sid: str, leg_call_sid: str) -> bool:
        """Note a `<Dial>`ed leg on its parent call: False when already noted or no parent is stored."""
        ...


class WebhookCallWrites(CallStatusWrites, Protocol):
    """The webhooks tier: parties, status, recording, legs (the outbox announces what they change)."""

    def upsert_call(self, upsert: CallUpsert) -> None:
        """Set the parties and route; first-seen times (`started_at`, `created_at`) keep their first value."""
        ...


class StreamClaims(Protocol):
    """The streamer: one stream per call. A stream takes its call before anything else is done with
    it, then shows it is alive while it runs (the sweeper never finishes a transcript whose stream
    is alive)."""

    def claim_stream(self, claim: StreamClaim) -> bool:
        """Take the call for this stream, in one write with what a start writes (`stream_owner`,
        `stream_sid`, `transcript_status=in-progress`, `stream_started_at` unless stored, a
        heartbeat); creates the item when no tier has yet. False when any stream claimed the call
        before (running or ended, on any task) or its transcript has ended; True again for the same
        owner (a retried claim)."""
        ...

    def heartbeat(self, call_sid: str, owner: str) -> bool:
        """Stamp the owning stream's latest sign of life (`stream_heartbeat_at`); False when this
        stream does not own the call."""
        ...


class TranscriptStatusWrites(Protocol):
    """The streamer: how the owning stream's transcript ended (never back to live)."""

    def transcript_finished(
        self,
        call_sid: str,
        owner: str,
        status: TranscriptStatus,
        segment_count: int | None,
        error: str | None,
    ) -> TranscriptEnd:
        """Record how the transcript ended, with `error` (or without one: a stored error is removed,
        except from a `failed` given none, which keeps its own). `REFUSED` when `owner` does not own
        the call or a `failed` already recorded wins; `AFTER_SWEEP` when the sweeper had ended (and
        announced) the transcript before; else `ENDED`."""
        ...

    def transcript_failed(self, call_sid: str, owner: str, error: str) -> bool:
        """Record that transcription failed (wins over any other ending); False when `owner` does
        not own the call."""
        ...


class StreamUsageWrites(Protocol):
    """The streamer: what it used for the call (audio sent to Deepgram live, characters to TTS)."""

    def record_stream_usage(self, usage: StreamUsage, owner: str) -> bool:
        """Set `live_audio_seconds` (and `tts_characters` when given): a plain SET, so a retry
        writes the same values; False when `owner` does not own the call."""
        ...


class RedactionCountWrites(Protocol):
    """The streamer: what redaction took out of the live transcript, per kind."""

    def save_redaction_counts(self, call_sid: str, owner: str, counts: Mapping[str, int]) -> bool:
        """Set `redaction_counts` to these totals (a SET, not an increment: a retry writes the same
        map; `{}` says redaction ran and found nothing); False when `owner` does not own the call."""
        ...


class OwnedSegmentWrites(Protocol):
    """The streamer: final segments of the call a stream owns, keyed by their own timing."""

    def write_owned_segment(self, segment: Segment, owner: str) -> bool:
        """Store the segment, marked as `owner`'s (one conditional PutItem): a retry overwrites
        itself; False when its key holds a segment another stream stored (left as it was)."""
        ...


class SegmentReader(Protocol):
    """The summaries: a call's whole transcript, every final segment at once."""

    def list_segments(self, call_sid: str) -> list[Segment]:
        """Every stored segment of the call (strongly consistent), ordered by stream time then track."""
        ...


class SegmentPageReader(Protocol):
    """GET /calls: a call's final segments one bounded page at a time (a long call's whole
    transcript would not fit in one Lambda response)."""

    def page_segments(self, call_sid: str, *, limit: int, after: str | None = None) -> SegmentPage:
        """At most `limit` segments (strongly consistent) following the sort key `after` (from the
        first when None), ordered by stream time then track, read by one Query: so a page also holds
        at most DynamoDB's 1 MB per Query, and may hold fewer than `limit` segments with more to come.
        Following `next_key` until it is None yields exactly `list_segments`, each segment once."""
        ...


class SummaryFailureWrites(Protocol):
    """`summary_status = failed`: the summaries tier, when the model refuses a request for good, and
    the sweeper, when a final transcript's summary never came (docs/summaries.md, "When no summary
    comes")."""

    def summary_failed(self, call_sid: str) -> bool:
        """Mark the call's summary failed; False (nothing written) when the call has a summary, so the
        mark never replaces or contradicts one, and a summary stored later sets `completed` over it."""
        ...


class SummaryCalls(CostWrites, SummaryFailureWrites, Protocol):
    """The summaries tier: the summary, stored once and replaced once per transcript version, and
    the mark that none is coming."""

    def save_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        """Store the summary (and in the same write its evaluation answers and their question set's
        version) unless the call already has one; True when this write stored it."""
        ...

    def replace_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        transcript_version: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        """Replace the stored summary with one of `transcript_version` (the summary map's own
        `transcript_version`) and its evaluation answers; False when there is no summary or it
        already is of that version (one rewrite per transcript version)."""
        ...


class EvaluationBackfillCalls(CallReader, Protocol):
    """The evaluation backfill: the calls of a day, and answers stored once per question set."""

    def calls_started_on(self, day: str) -> Iterator[Call]:
        """The calls whose `call_date` is `day` (YYYY-MM-DD, UTC), by start time (calls_by_day)."""
        ...

    def save_evaluations(self, call_sid: str, evaluations: EvaluationSet) -> bool:
        """Store answers and `evaluations_version` on an existing call; False when the call is not
        there or already holds answers of that version (a re-run writes nothing)."""
        ...


class RecordingCalls(CostWrites, Protocol):
    """The recordings tier: where the recording's copy is, and the reconciliation's result."""

    def set_recording_s3_key(self, call_sid: str, recording_sid: str, s3_key: str) -> bool:
        """Record the recording's S3 copy; False when the call's recording is not `recording_sid`."""
        ...

    def save_reconciliation(self, update: ReconciliationUpdate) -> bool:
        """Store the reconciliation (and `reconciled_at`); False when this transcript version, read
        from a live transcript of the same status, is already stored (a re-driven reconciliation
        changes nothing), or when it was read while live was in progress and a reconciliation read
        from the final live transcript is stored."""
        ...


class RecordingSegments(SegmentReader, Protocol):
    """The recordings tier: reads every segment, writes and removes only the ones it added.

    Both writes refuse (ValueError) a key without the `#r` suffix or a segment not marked
    `origin=recording`, so live segments are never overwritten or deleted.
    """

    def write_recording_segments(self, segments: Sequence[Segment]) -> None:
        """Store the segments filled in from the recording (keyed puts: a repeat overwrites itself)."""
        ...

    def delete_recording_segments(self, call_sid: str, segment_keys: Sequence[str]) -> None:
        """Remove recording segments an earlier reconciliation added and this one no longer does."""
        ...


class SweeperCalls(CallStatusWrites, SummaryFailureWrites, Protocol):
    """The sweeper: the calls that may still need it (the sparse calls_to_sweep index), a transcript
    whose stream died, a summary that never came, the marker it claims, re-arms, defers and removes;
    and what Twilio's REST API says of a call whose callbacks were lost (`CallStatusWrites`, the
    webhooks' own writes).

    Every marker write is conditional on the marker (`sweep_after`) still holding the value the
    sweeper read, so overlapping runs and a concurrent terminal status callback never make a call
    re-driven twice. The summary's failure mark is conditional on the call having no summary instead
    (a repeat writes the same value).
    """

    def calls_due_for_sweep(self, cutoff: str, limit: int) -> list[str]:
        """SIDs of at most `limit` calls whose `sweep_after` is at or before `cutoff`, the longest
        waiting first within each shard. From the index (eventually consistent): read each one
        with `get` before acting on it."""
        ...

    def finish_stalled_transcript(
        self, call_sid: str, segment_count: int, error: str, stale_before: str
    ) -> bool:
        """Mark a transcript still `pending`/`in-progress` `incomplete` with what was stored, and
        note that the sweeper ended it (`transcript_swept_at`); only while its stream is dead: never
        claimed, or its heartbeat older than `stale_before`. False when it has ended meanwhile (the
        streamer's own ending wins) or its stream showed a sign of life since `stale_before`."""
        ...

    def claim_sweep(self, claim: SweepClaim) -> bool:
        """Move the marker to `claim.next_after` and count the attempt; False when it moved already."""
        ...

    def release_sweep(self, claim: SweepClaim) -> None:
        """Undo a claim whose re-drive failed (the marker back as read), so the next run retries."""
        ...

    def defer_sweep(self, deferral: SweepDeferral) -> bool:
        """Move the marker to `deferral.next_after` without counting a re-drive (and, when given,
        store `twilio_asks` and stamp `twilio_asked_at`); False when the marker moved already."""
        ...

    def settle_sweep(self, call_sid: str, expected_after: str) -> bool:
        """Take a settled call out of the index; False when its marker moved meanwhile."""
        ...

    def settle_live_only(self, call_sid: str, expected_after: str, transcript_status: str) -> bool:
        """Settle a call recorded by nothing (`recording_expected = false`) whose live transcript is
        final: out of the index, and reconciled as live only (`transcript_source = live`, no gaps,
        nothing filled, `live_coverage` and `transcript_version` left unset: there is no recording to
        measure live against, and no other transcript to summarise). False when the marker moved,
        the call was reconciled, or its transcript status is no longer `transcript_status`."""
        ...

    def park_sweep(self, call_sid: str, expected_after: str) -> bool:
        """Take a call out of the index without settling it (out of attempts): stamps
        `sweep_gave_up_at` for an operator; False when its marker moved meanwhile."""
        ...


class SegmentCounter(Protocol):
    """The sweeper: how many live segments a call has stored (what a stalled transcript is finished with)."""

    def count_live_segments(self, call_sid: str) -> int:
        """Stored segments of the call that the streamer wrote (not the recording's), strongly consistent."""
        ...
