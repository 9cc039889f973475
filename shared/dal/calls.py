"""`DynamoCalls`: the calls table (the CDR), every tier's reads and writes, one UpdateItem each.

Three tiers write disjoint attributes of one item, each through its own Protocol (shared/dal/ports.py),
and Twilio's callbacks arrive in any order, twice, or for a call never seen. So every write here is
a single UpdateItem that is safe to repeat and to reorder, and any of them may create the item:

- parties and first-seen times use `if_not_exists`, so the first writer's value stays;
- a status only moves `status_rank` up (shared/status.py), so the terminal status lands once;
- a recording report other than `completed` never replaces a completed one;
- `Call Completed` is claimed by setting `call_completed_event_at` on a terminal, unclaimed call, and
  `Recording Completed` by adding the recording SID to `recording_event_sids` (once per recording);
- a `<Dial>`ed leg is added to its parent's `leg_call_sids` (a set: repeats change nothing) only
  when the parent exists, so a stray leg callback never creates a parent record;
- the transcript status never moves back from a terminal value, and a `failed` wins over the others;
- the summary is stored with `attribute_not_exists(summary)`: never replaced;
- the stream's start time is written once; the recording's S3 key only onto the recording it names;
- a reconciliation is stored when its transcript version (or the live transcript status it read)
  differs from the stored one, so a re-driven reconciliation of the same transcript changes nothing,
  and one read from a live transcript still in progress never replaces one read from a final one;
- a rewritten summary replaces the stored one only when it names another transcript version;
  evaluation answers ride in the summary's write, and the backfill stores answers only when the
  call's `evaluations_version` is another question set's (a re-run changes nothing);
- a cost is stored only while the record holds every input it was computed from (`CostBasis`), so
  a cost computed from a read another writer has since overtaken never lands (shared/costs.py);
- the sweeper's marker (`sweep_shard` + `sweep_after`, the sparse calls_to_sweep index) is set by the
  status writes (the terminal one replaces a fallback), and the sweeper moves or removes it only while
  it still holds the value the sweeper read.

What those rules mean for a call (which times a status sets, when to publish) is decided by each
tier; this module keeps only the guarantees DynamoDB's conditions can make atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pynamodb.exceptions import PynamoDBException

from shared import clock
from shared.dal.keys import SWEEP_SHARDS, sweep_shard
from shared.dal.models import CallRecord, calls_model
from shared.dal.records import (
    RECORDING_COMPLETED,
    Call,
    CallUpsert,
    CompletedCall,
    CostBasis,
    EvaluationSet,
    ReconciliationUpdate,
    RecordingUpdate,
    StatusAdvance,
    StreamUsage,
    SweepClaim,
    plain,
)
from shared.dal.updates import conditional_update, missing_map
from shared.errors import StoreError
from shared.status import TERMINAL_RANK, SummaryStatus, TranscriptStatus

TRANSCRIPT_ERROR_MAX = 500  # characters of `transcript_error` kept: a reason, not a log
TRANSCRIPT_SOURCE_LIVE = "live"  # what a call recorded by nothing is reconciled as (the sweeper)
FINAL_TRANSCRIPT = (
    TranscriptStatus.COMPLETED.value,
    TranscriptStatus.INCOMPLETE.value,
    TranscriptStatus.FAILED.value,
)
_STATUS_HISTORY_ATTEMPTS = 3


def to_call(record: CallRecord) -> Call:
    """The domain record of a stored item (pynamodb maps and numbers made plain)."""
    return Call.from_item({name: plain(value) for name, value in record.attribute_values.items()})


class DynamoCalls:
    """Implements every calls-table port of shared/dal/ports.py over one calls table."""

    def __init__(self, calls_table: str, now: Callable[[], str] = clock.now_iso) -> None:
        self._model = calls_model(calls_table)
        self._now = now

    # ---- reads --------------------------------------------------------------------------------

    def get(self, call_sid: str) -> Call | None:
        model = self._model
        try:
            record = model.get(call_sid, consistent_read=True)
        except model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError(f"reading call {call_sid} failed: {exc}") from exc
        return to_call(record)

    # ---- webhooks -----------------------------------------------------------------------------

    def upsert_call(self, upsert: CallUpsert) -> None:
        m = self._model
        now = self._now()
        actions: list[Any] = [getattr(m, name).set(value) for name, value in upsert.parties.present().items()]
        actions += [
            m.started_at.set(m.started_at | upsert.started_at),
            m.call_date.set(m.call_date | upsert.started_at[:10]),
            m.created_at.set(m.created_at | now),
            m.updated_at.set(now),
            # An empty history map lets the status write that follows set its key at the first try.
            m.status_history.set(m.status_history | {}),
        ]
        if upsert.route is not None:
            actions.append(m.route.set(upsert.route))
        if upsert.connect_to is not None:
            actions.append(m.connect_to.set(upsert.connect_to))
        if upsert.language is not None:
            actions.append(m.language.set(upsert.language))
        if upsert.stt_model is not None:
            actions.append(m.stt_model.set(upsert.stt_model))
        if upsert.recording_expected is not None:
            actions.append(m.recording_expected.set(upsert.recording_expected))
        conditional_update(m(upsert.call_sid), actions, None, f"upsert of {upsert.call_sid}")

    def advance_status(self, advance: StatusAdvance) -> bool:
        m = self._model
        now = self._now()
        actions: list[Any] = [
            m.status.set(advance.status),
            m.status_rank.set(advance.rank),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
            m.started_at.set(m.started_at | advance.at),
            m.call_date.set(m.call_date | advance.at[:10]),
        ]
        if advance.parties is not None:
            for name, value in advance.parties.present().items():
                attribute = getattr(m, name)
                actions.append(attribute.set(attribute | value))
        if advance.answered_at is not None:
            actions.append(m.answered_at.set(m.answered_at | advance.answered_at))
        if advance.ended_at is not None:
            actions.append(m.ended_at.set(advance.ended_at))
        if advance.duration_seconds is not None:
            actions.append(m.duration_seconds.set(advance.duration_seconds))
        if advance.answered_by:
            actions.append(m.answered_by.set(advance.answered_by))
        if advance.sip_response_code is not None:
            actions.append(m.sip_response_code.set(advance.sip_response_code))
        if advance.sweep_after is not None:
            # the terminal status replaces the fallback an earlier status set; earlier ones keep the first
            after = advance.sweep_after
            terminal = advance.rank == TERMINAL_RANK
            actions.append(m.sweep_after.set(after if terminal else m.sweep_after | after))
            actions.append(m.sweep_shard.set(sweep_shard(advance.call_sid)))
        condition = m.status_rank.does_not_exist() | (m.status_rank < advance.rank)
        history_key = m.status_history[advance.status].set(advance.at)
        first_history = m.status_history.set({advance.status: advance.at})
        what = f"status update of {advance.call_sid}"
        # status_history is a map; DynamoDB can set a key inside it only once the map exists, so a
        # call seen first by this write creates the map whole (guarded, in case of a concurrent write).
        for _ in range(_STATUS_HISTORY_ATTEMPTS):
            try:
                return conditional_update(m(advance.call_sid), [*actions, history_key], condition, what)
            except StoreError as exc:
                if not missing_map(exc):
                    raise
            guarded = condition & m.status_history.does_not_exist()
            if conditional_update(m(advance.call_sid), [*actions, first_history], guarded, what):
                return True
            # Either the call has moved past this status, or a concurrent write made the map.
        raise StoreError(f"status update of {advance.call_sid} kept racing the status history write")

    def update_recording(self, update: RecordingUpdate) -> bool:
        m = self._model
        now = self._now()
        actions = [
            m.recording.set(update.as_item(now)),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
        ]
        condition = None
        if update.status != RECORDING_COMPLETED:
            condition = m.recording.does_not_exist() | (m.recording.status != RECORDING_COMPLETED)
        return conditional_update(
            m(update.call_sid), actions, condition, f"recording update of {update.call_sid}"
        )

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        m = self._model
        record = m(call_sid)
        claimed = conditional_update(
            record,
            [m.call_completed_event_at.set(claimed_at)],
            (m.status_rank == TERMINAL_RANK) & m.call_completed_event_at.does_not_exist(),
            f"completion claim of {call_sid}",
        )
        if not claimed:
            return None
        duration = record.duration_seconds
        return CompletedCall(
            call_sid=call_sid,
            status=str(record.status),
            duration_seconds=None if duration is None else int(duration),
        )

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        m = self._model
        conditional_update(
            m(call_sid),
            [m.call_completed_event_at.remove()],
            m.call_completed_event_at == claimed_at,
            f"releasing the completion claim of {call_sid}",
        )

    def claim_recording_event(self, call_sid: str, recording_sid: str) -> bool:
        m = self._model
        return conditional_update(
            m(call_sid),
            [m.recording_event_sids.add({recording_sid}), m.updated_at.set(self._now())],
            m.recording_event_sids.does_not_exist() | ~m.recording_event_sids.contains(recording_sid),
            f"recording event claim of {call_sid}",
        )

    def release_recording_event(self, call_sid: str, recording_sid: str) -> None:
        m = self._model
        conditional_update(
            m(call_sid),
            [m.recording_event_sids.delete({recording_sid})],
            m.recording_event_sids.contains(recording_sid),
            f"releasing the recording event claim of {call_sid}",
        )

    def add_leg(self, parent_call_sid: str, leg_call_sid: str) -> bool:
        m = self._model
        unseen = m.leg_call_sids.does_not_exist() | ~m.leg_call_sids.contains(leg_call_sid)
        return conditional_update(
            m(parent_call_sid),
            [m.leg_call_sids.add({leg_call_sid}), m.updated_at.set(self._now())],
            m.call_sid.exists() & unseen,
            f"leg {leg_call_sid} of {parent_call_sid}",
        )

    # ---- streamer -----------------------------------------------------------------------------

    def transcript_started(self, call_sid: str, stream_sid: str) -> bool:
        m = self._model
        return conditional_update(
            m(call_sid),
            [
                m.transcript_status.set(TranscriptStatus.IN_PROGRESS.value),
                m.stream_sid.set(stream_sid),
                m.updated_at.set(self._now()),
            ],
            m.transcript_status.does_not_exist()
            | m.transcript_status.is_in(TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value),
            f"transcript start of {call_sid}",
        )

    def transcript_finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int | None, error: str | None
    ) -> bool:
        m = self._model
        stamp = self._now()
        actions: list[Any] = [m.transcript_status.set(status.value), m.updated_at.set(stamp)]
        if segment_count is not None:
            actions.append(m.segment_count.set(segment_count))
        if error is not None:
            actions.append(m.transcript_error.set(error[:TRANSCRIPT_ERROR_MAX]))
        condition = None
        if status is not TranscriptStatus.FAILED:
            actions.append(m.transcript_completed_at.set(stamp))
            # a failure recorded by this stream wins over "completed" and "incomplete"
            condition = m.transcript_status.does_not_exist() | (
                m.transcript_status != TranscriptStatus.FAILED.value
            )
        return conditional_update(m(call_sid), actions, condition, f"transcript end of {call_sid}")

    def transcript_failed(self, call_sid: str, error: str) -> bool:
        return self.transcript_finished(call_sid, TranscriptStatus.FAILED, None, error)

    def save_redaction_counts(self, call_sid: str, counts: Mapping[str, int]) -> None:
        m = self._model
        now = self._now()
        conditional_update(
            m(call_sid),
            [
                m.redaction_counts.set(dict(counts)),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            None,
            f"redaction counts of {call_sid}",
        )

    def stream_started(self, call_sid: str, started_at: str) -> bool:
        m = self._model
        now = self._now()
        return conditional_update(
            m(call_sid),
            [
                m.stream_started_at.set(started_at),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            m.stream_started_at.does_not_exist(),
            f"stream start of {call_sid}",
        )

    # ---- recordings ---------------------------------------------------------------------------

    def set_recording_s3_key(self, call_sid: str, recording_sid: str, s3_key: str) -> bool:
        m = self._model
        return conditional_update(
            m(call_sid),
            [m.recording_s3_key.set(s3_key), m.updated_at.set(self._now())],
            m.recording.sid == recording_sid,
            f"recording copy of {call_sid}",
        )

    def save_reconciliation(self, update: ReconciliationUpdate) -> bool:
        m = self._model
        now = self._now()
        changed = (
            m.transcript_version.does_not_exist()
            | (m.transcript_version != update.transcript_version)
            | m.reconciled_transcript_status.does_not_exist()
            | (m.reconciled_transcript_status != update.transcript_status)
        )
        condition = changed
        if update.transcript_status not in FINAL_TRANSCRIPT:
            # read early (live still in progress): never over one read from a final transcript
            condition = changed & (
                m.reconciled_transcript_status.does_not_exist()
                | ~m.reconciled_transcript_status.is_in(*FINAL_TRANSCRIPT)
            )
        return conditional_update(
            m(update.call_sid),
            [
                m.transcript_source.set(update.transcript_source),
                m.live_coverage.set(update.live_coverage),
                m.gaps.set([gap.as_item() for gap in update.gaps]),
                m.filled_seconds.set(update.filled_seconds),
                m.transcript_version.set(update.transcript_version),
                m.alignment.set(update.alignment_item()),
                m.reconciled_transcript_status.set(update.transcript_status),
                *(
                    [m.recording_redaction_counts.set(dict(update.redaction_counts))]
                    if update.redaction_counts is not None
                    else []
                ),
                m.reconciled_at.set(now),
                m.updated_at.set(now),
                m.created_at.set(m.created_at | now),
            ],
            condition,
            f"reconciliation of {update.call_sid}",
        )

    # ---- sweeper ------------------------------------------------------------------------------

    def calls_due_for_sweep(self, cutoff: str, limit: int) -> list[str]:
        m = self._model
        due: list[tuple[str, str]] = []
        try:
            for shard in range(SWEEP_SHARDS):
                for item in m.calls_to_sweep.query(
                    str(shard), m.sweep_after <= cutoff, limit=limit, page_size=min(limit, 1000)
                ):
                    due.append((str(item.sweep_after), item.call_sid))
        except PynamoDBException as exc:
            raise StoreError(f"reading the calls due for the sweeper failed: {exc}") from exc
        return [call_sid for _, call_sid in sorted(due)[:limit]]

    def finish_stalled_transcript(self, call_sid: str, segment_count: int, error: str) -> bool:
        m = self._model
        stamp = self._now()
        return conditional_update(
            m(call_sid),
            [
                m.transcript_status.set(TranscriptStatus.INCOMPLETE.value),
                m.segment_count.set(segment_count),
                m.transcript_error.set(error[:TRANSCRIPT_ERROR_MAX]),
                m.transcript_completed_at.set(stamp),
                m.updated_at.set(stamp),
            ],
            m.transcript_status.is_in(TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value),
            f"sweeping the transcript of {call_sid}",
        )

    def claim_sweep(self, claim: SweepClaim) -> bool:
        m = self._model
        now = self._now()
        return conditional_update(
            m(claim.call_sid),
            [
                m.sweep_after.set(claim.next_after),
                m.sweep_attempts.set(claim.attempts),
                m.swept_at.set(now),
                m.updated_at.set(now),
            ],
            m.sweep_after == claim.expected_after,
            f"sweep claim of {claim.call_sid}",
        )

    def release_sweep(self, claim: SweepClaim) -> None:
        m = self._model
        conditional_update(
            m(claim.call_sid),
            [m.sweep_after.set(claim.expected_after), m.sweep_attempts.set(claim.attempts - 1)],
            m.sweep_after == claim.next_after,
            f"releasing the sweep claim of {claim.call_sid}",
        )

    def settle_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=False)

    def park_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=True)

    def settle_live_only(self, call_sid: str, expected_after: str, transcript_status: str) -> bool:
        m = self._model
        now = self._now()
        return conditional_update(
            m(call_sid),
            [
                m.sweep_shard.remove(),
                m.sweep_after.remove(),
                m.swept_at.set(now),
                m.transcript_source.set(TRANSCRIPT_SOURCE_LIVE),
                m.gaps.set([]),
                m.filled_seconds.set(0),
                m.reconciled_transcript_status.set(transcript_status),
                m.reconciled_at.set(now),
                m.updated_at.set(now),
            ],
            (m.sweep_after == expected_after)
            & (m.recording_expected == False)  # noqa: E712 - a DynamoDB condition, not a Python test
            & m.reconciled_at.does_not_exist()
            & (m.transcript_status == transcript_status),
            f"settling {call_sid} (live only) for the sweeper",
        )

    def _unmark(self, call_sid: str, expected_after: str, *, gave_up: bool) -> bool:
        """Out of the index (both key attributes go, so the sparse index drops the item)."""
        m = self._model
        now = self._now()
        actions: list[Any] = [
            m.sweep_shard.remove(),
            m.sweep_after.remove(),
            m.swept_at.set(now),
            m.updated_at.set(now),
        ]
        if gave_up:
            actions.append(m.sweep_gave_up_at.set(now))
        return conditional_update(
            m(call_sid),
            actions,
            m.sweep_after == expected_after,
            f"{'parking' if gave_up else 'settling'} {call_sid} for the sweeper",
        )

    # ---- summaries ----------------------------------------------------------------------------

    def save_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        m = self._model
        return conditional_update(
            m(call_sid),
            [
                m.summary.set(dict(summary)),
                m.summary_status.set(SummaryStatus.COMPLETED.value),
                m.summary_created_at.set(created_at),
                m.updated_at.set(self._now()),
                *self._evaluation_actions(evaluations),
            ],
            m.summary.does_not_exist(),
            f"summary write of {call_sid}",
        )

    def replace_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        transcript_version: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        m = self._model
        summarised = m.summary["transcript_version"]
        return conditional_update(
            m(call_sid),
            [
                m.summary.set(dict(summary)),
                m.summary_status.set(SummaryStatus.COMPLETED.value),
                m.summary_created_at.set(created_at),
                m.summary_event_at.remove(),  # this version's event is owed
                m.updated_at.set(self._now()),
                *self._evaluation_actions(evaluations),
            ],
            m.summary.exists() & (summarised.does_not_exist() | (summarised != transcript_version)),
            f"summary rewrite of {call_sid}",
        )

    def mark_summary_published(self, call_sid: str) -> None:
        m = self._model
        conditional_update(
            m(call_sid),
            [m.summary_event_at.set(self._now())],
            m.summary.exists() & m.summary_event_at.does_not_exist(),
            f"summary event mark of {call_sid}",
        )

    def _evaluation_actions(self, evaluations: EvaluationSet | None) -> list[Any]:
        if evaluations is None:
            return []
        m = self._model
        return [
            m.evaluations.set([dict(answer) for answer in evaluations.answers]),
            m.evaluations_version.set(evaluations.version),
        ]

    # ---- evaluation backfill ------------------------------------------------------------------

    def calls_started_on(self, day: str) -> Iterator[Call]:
        """Every call whose `call_date` is `day` (YYYY-MM-DD, UTC), by start time (calls_by_day)."""
        m = self._model
        try:
            for record in m.calls_by_day.query(day):
                yield to_call(record)
        except PynamoDBException as exc:
            raise StoreError(f"reading the calls of {day} failed: {exc}") from exc

    def save_evaluations(self, call_sid: str, evaluations: EvaluationSet) -> bool:
        m = self._model
        return conditional_update(
            m(call_sid),
            [*self._evaluation_actions(evaluations), m.updated_at.set(self._now())],
            m.call_sid.exists()
            & (m.evaluations_version.does_not_exist() | (m.evaluations_version != evaluations.version)),
            f"evaluations write of {call_sid}",
        )

    # ---- cost (issue 14) ------------------------------------------------------------------------

    def record_stream_usage(self, usage: StreamUsage) -> None:
        m = self._model
        now = self._now()
        actions: list[Any] = [
            m.live_audio_seconds.set(usage.live_audio_seconds),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
        ]
        if usage.tts_characters is not None:
            actions.append(m.tts_characters.set(usage.tts_characters))
        conditional_update(m(usage.call_sid), actions, None, f"stream usage of {usage.call_sid}")

    def save_cost(self, call_sid: str, cost: Mapping[str, Any], basis: CostBasis) -> bool:
        m = self._model
        condition = m.call_sid.exists()  # never creates a record: a cost belongs to a call
        for path, value in _cost_basis_paths(m, basis):
            condition &= path.does_not_exist() if value is None else (path == value)
        condition &= m.alignment.exists() if basis.recording_transcribed else m.alignment.does_not_exist()
        return conditional_update(
            m(call_sid),
            [
                m.cost.set({name: value for name, value in cost.items() if value is not None}),
                m.updated_at.set(self._now()),
            ],
            condition,
            f"cost of {call_sid}",
        )


def _cost_basis_paths(m: type[CallRecord], basis: CostBasis) -> list[tuple[Any, Any]]:
    """Each attribute of the record a `CostBasis` field was read from, with the value read."""
    return [
        (m.direction, basis.direction),
        (m.status, basis.status),
        (m.duration_seconds, basis.duration_seconds),
        (m.recording.status, basis.recording_status),
        (m.recording.duration_seconds, basis.recording_duration_seconds),
        (m.recording.channels, basis.recording_channels),
        (m.live_audio_seconds, basis.live_audio_seconds),
        (m.tts_characters, basis.tts_characters),
        (m.summary["estimated_cost_usd"], basis.summary_cost_usd),
    ]
