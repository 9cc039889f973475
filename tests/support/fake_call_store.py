"""In-memory calls and segments tables with the same condition semantics as the data layer's adapters.

`FakeCallStore` implements every calls-table port of `shared.dal.ports` (the webhooks', the
streamer's, the summaries', the recordings' and the sweeper's); each method mirrors one conditional
UpdateItem of `shared.dal.calls.DynamoCalls`: the same condition, evaluated atomically (a lock stands
in for DynamoDB's per-item atomicity), the same attributes set. The sparse calls_to_sweep index is
the items holding both `sweep_shard` and `sweep_after`. `FakeSegments` does the same for
`DynamoSegments` (the whole transcript, one page of it, and the count of live segments). Unit tests
use them to run every callback ordering in milliseconds; tests/integration/test_dal_agreement.py runs
the same scenarios on both, against moto.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shared.dal.keys import check_recording_key, sweep_shard
from shared.dal.records import (
    RECORDING_COMPLETED,
    Call,
    CallUpsert,
    CompletedCall,
    CostBasis,
    EvaluationSet,
    ReconciliationUpdate,
    RecordingUpdate,
    Segment,
    SegmentPage,
    StatusAdvance,
    StreamUsage,
    SweepClaim,
    check_recording_segment,
)
from shared.events import DomainEvent
from shared.status import TERMINAL_RANK, SummaryStatus, TranscriptStatus

NOW = "2026-11-22T09:31:00.000Z"


class FakeCallStore:
    def __init__(self, now: str = NOW) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.now = now
        self._lock = threading.Lock()

    def _item(self, call_sid: str) -> dict[str, Any]:
        return self.items.setdefault(call_sid, {"call_sid": call_sid})

    def get(self, call_sid: str) -> Call | None:
        with self._lock:
            item = self.items.get(call_sid)
            return None if item is None else Call.from_item(item)

    # ---- webhooks ------------------------------------------------------------------------------

    def upsert_call(self, upsert: CallUpsert) -> None:
        with self._lock:
            self.writes += 1
            item = self._item(upsert.call_sid)
            item.update(upsert.parties.present())
            item.setdefault("started_at", upsert.started_at)
            item.setdefault("call_date", upsert.started_at[:10])
            item.setdefault("status_history", {})
            if upsert.route is not None:
                item["route"] = upsert.route
            if upsert.connect_to is not None:
                item["connect_to"] = upsert.connect_to
            if upsert.language is not None:
                item["language"] = upsert.language
            if upsert.stt_model is not None:
                item["stt_model"] = upsert.stt_model
            if upsert.recording_expected is not None:
                item["recording_expected"] = upsert.recording_expected

    def advance_status(self, advance: StatusAdvance) -> bool:
        with self._lock:
            current = self.items.get(advance.call_sid, {}).get("status_rank")
            if current is not None and not current < advance.rank:
                return False
            self.writes += 1
            item = self._item(advance.call_sid)
            item.update(status=advance.status, status_rank=advance.rank)
            item.setdefault("started_at", advance.at)
            item.setdefault("call_date", advance.at[:10])
            if advance.parties is not None:
                for name, value in advance.parties.present().items():
                    item.setdefault(name, value)
            if advance.answered_at is not None:
                item.setdefault("answered_at", advance.answered_at)
            if advance.ended_at is not None:
                item["ended_at"] = advance.ended_at
            if advance.duration_seconds is not None:
                item["duration_seconds"] = advance.duration_seconds
            if advance.answered_by:
                item["answered_by"] = advance.answered_by
            if advance.sip_response_code is not None:
                item["sip_response_code"] = advance.sip_response_code
            if advance.sweep_after is not None:
                if advance.rank == TERMINAL_RANK:
                    item["sweep_after"] = advance.sweep_after
                else:
                    item.setdefault("sweep_after", advance.sweep_after)
                item["sweep_shard"] = sweep_shard(advance.call_sid)
            item.setdefault("status_history", {})[advance.status] = advance.at
            return True

    def update_recording(self, update: RecordingUpdate) -> bool:
        with self._lock:
            existing = self.items.get(update.call_sid, {}).get("recording")
            if (
                update.status != RECORDING_COMPLETED
                and existing is not None
                and existing.get("status") == RECORDING_COMPLETED
            ):
                return False
            self.writes += 1
            self._item(update.call_sid)["recording"] = update.as_item(self.now)
            return True

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        with self._lock:
            item = self.items.get(call_sid)
            if item is None or item.get("status_rank") != TERMINAL_RANK or "call_completed_event_at" in item:
                return None
            self.writes += 1
            item["call_completed_event_at"] = claimed_at
            return CompletedCall(call_sid, item["status"], item.get("duration_seconds"))

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        with self._lock:
            item = self.items.get(call_sid)
            if item is not None and item.get("call_completed_event_at") == claimed_at:
                del item["call_completed_event_at"]

    def claim_recording_event(self, call_sid: str, recording_sid: str) -> bool:
        with self._lock:
            claimed = self._item(call_sid).setdefault("recording_event_sids", set())
            if recording_sid in claimed:
                return False
            self.writes += 1
            claimed.add(recording_sid)
            return True

    def release_recording_event(self, call_sid: str, recording_sid: str) -> None:
        with self._lock:
            claimed = self.items.get(call_sid, {}).get("recording_event_sids")
            if claimed is not None and recording_sid in claimed:
                claimed.discard(recording_sid)
                if not claimed:
                    del self.items[call_sid]["recording_event_sids"]  # DynamoDB drops an empty set

    def add_leg(self, parent_call_sid: str, leg_call_sid: str) -> bool:
        with self._lock:
            parent = self.items.get(parent_call_sid)
            if parent is None or leg_call_sid in parent.get("leg_call_sids", ()):
                return False
            self.writes += 1
            parent.setdefault("leg_call_sids", set()).add(leg_call_sid)
            return True

    # ---- streamer ------------------------------------------------------------------------------

    def transcript_started(self, call_sid: str, stream_sid: str) -> bool:
        with self._lock:
            status = self.items.get(call_sid, {}).get("transcript_status")
            if status not in (None, TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value):
                return False
            self.writes += 1
            item = self._item(call_sid)
            item.update(transcript_status=TranscriptStatus.IN_PROGRESS.value, stream_sid=stream_sid)
            return True

    def transcript_finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int | None, error: str | None
    ) -> bool:
        with self._lock:
            current = self.items.get(call_sid, {}).get("transcript_status")
            if status is not TranscriptStatus.FAILED and current == TranscriptStatus.FAILED.value:
                return False
            self.writes += 1
            item = self._item(call_sid)
            item["transcript_status"] = status.value
            if segment_count is not None:
                item["segment_count"] = segment_count
            if error is not None:
                item["transcript_error"] = error[:500]
            if status is not TranscriptStatus.FAILED:
                item["transcript_completed_at"] = self.now
            return True

    def transcript_failed(self, call_sid: str, error: str) -> bool:
        return self.transcript_finished(call_sid, TranscriptStatus.FAILED, None, error)

    def save_redaction_counts(self, call_sid: str, counts: Mapping[str, int]) -> None:
        with self._lock:
            self.writes += 1
            self._item(call_sid)["redaction_counts"] = dict(counts)

    def stream_started(self, call_sid: str, started_at: str) -> bool:
        with self._lock:
            if "stream_started_at" in self.items.get(call_sid, {}):
                return False
            self.writes += 1
            self._item(call_sid)["stream_started_at"] = started_at
            return True

    # ---- recordings ----------------------------------------------------------------------------

    def set_recording_s3_key(self, call_sid: str, recording_sid: str, s3_key: str) -> bool:
        with self._lock:
            recording = self.items.get(call_sid, {}).get("recording")
            if recording is None or recording.get("sid") != recording_sid:
                return False
            self.writes += 1
            self.items[call_sid]["recording_s3_key"] = s3_key
            return True

    def save_reconciliation(self, update: ReconciliationUpdate) -> bool:
        with self._lock:
            stored = self.items.get(update.call_sid, {})
            same = (
                stored.get("transcript_version") == update.transcript_version
                and stored.get("reconciled_transcript_status") == update.transcript_status
            )
            final = {TranscriptStatus.COMPLETED, TranscriptStatus.INCOMPLETE, TranscriptStatus.FAILED}
            before = stored.get("reconciled_transcript_status")
            stale = update.transcript_status not in final and before in final
            if same or stale:
                return False
            self.writes += 1
            self._item(update.call_sid).update(
                transcript_source=update.transcript_source,
                live_coverage=update.live_coverage,
                gaps=[gap.as_item() for gap in update.gaps],
                filled_seconds=update.filled_seconds,
                transcript_version=update.transcript_version,
                alignment=update.alignment_item(),
                reconciled_transcript_status=update.transcript_status,
                reconciled_at=self.now,
            )
            if update.redaction_counts is not None:
                self.items[update.call_sid]["recording_redaction_counts"] = dict(update.redaction_counts)
            return True

    # ---- sweeper -------------------------------------------------------------------------------

    def calls_due_for_sweep(self, cutoff: str, limit: int) -> list[str]:
        with self._lock:
            due = sorted(
                (item["sweep_after"], sid)
                for sid, item in self.items.items()
                if "sweep_shard" in item and "sweep_after" in item and item["sweep_after"] <= cutoff
            )
            return [sid for _, sid in due[:limit]]

    def finish_stalled_transcript(self, call_sid: str, segment_count: int, error: str) -> bool:
        with self._lock:
            item = self.items.get(call_sid)
            live = (TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value)
            if item is None or item.get("transcript_status") not in live:
                return False
            self.writes += 1
            item.update(
                transcript_status=TranscriptStatus.INCOMPLETE.value,
                segment_count=segment_count,
                transcript_error=error[:500],
                transcript_completed_at=self.now,
            )
            return True

    def claim_sweep(self, claim: SweepClaim) -> bool:
        with self._lock:
            item = self.items.get(claim.call_sid)
            if item is None or item.get("sweep_after") != claim.expected_after:
                return False
            self.writes += 1
            item.update(sweep_after=claim.next_after, sweep_attempts=claim.attempts, swept_at=self.now)
            return True

    def release_sweep(self, claim: SweepClaim) -> None:
        with self._lock:
            item = self.items.get(claim.call_sid)
            if item is not None and item.get("sweep_after") == claim.next_after:
                self.writes += 1
                item.update(sweep_after=claim.expected_after, sweep_attempts=claim.attempts - 1)

    def settle_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=False)

    def park_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=True)

    def settle_live_only(self, call_sid: str, expected_after: str, transcript_status: str) -> bool:
        with self._lock:
            item = self.items.get(call_sid)
            if (
                item is None
                or item.get("sweep_after") != expected_after
                or item.get("recording_expected") is not False
                or item.get("reconciled_at") is not None
                or item.get("transcript_status") != transcript_status
            ):
                return False
            self.writes += 1
            item.pop("sweep_shard", None)
            item.pop("sweep_after", None)
            item.update(
                swept_at=self.now,
                transcript_source="live",
                gaps=[],
                filled_seconds=0,
                reconciled_transcript_status=transcript_status,
                reconciled_at=self.now,
            )
            return True

    def _unmark(self, call_sid: str, expected_after: str, *, gave_up: bool) -> bool:
        with self._lock:
            item = self.items.get(call_sid)
            if item is None or item.get("sweep_after") != expected_after:
                return False
            self.writes += 1
            item.pop("sweep_shard", None)
            item.pop("sweep_after", None)
            item["swept_at"] = self.now
            if gave_up:
                item["sweep_gave_up_at"] = self.now
            return True

    # ---- summaries -----------------------------------------------------------------------------

    def save_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        with self._lock:
            if "summary" in self.items.get(call_sid, {}):
                return False
            self.writes += 1
            self._item(call_sid).update(
                summary=dict(summary),
                summary_status=SummaryStatus.COMPLETED.value,
                summary_created_at=created_at,
                **_evaluation_values(evaluations),
            )
            return True

    def replace_summary(
        self,
        call_sid: str,
        summary: Mapping[str, Any],
        created_at: str,
        transcript_version: str,
        evaluations: EvaluationSet | None = None,
    ) -> bool:
        with self._lock:
            item = self.items.get(call_sid, {})
            if "summary" not in item or item["summary"].get("transcript_version") == transcript_version:
                return False
            self.writes += 1
            item.update(
                summary=dict(summary),
                summary_status=SummaryStatus.COMPLETED.value,
                summary_created_at=created_at,
                **_evaluation_values(evaluations),
            )
            item.pop("summary_event_at", None)
            return True

    # ---- evaluation backfill ---------------------------------------------------------------------

    def calls_started_on(self, day: str) -> Iterator[Call]:
        with self._lock:
            items = [
                dict(i) for i in self.items.values() if i.get("call_date") == day and i.get("started_at")
            ]
        for item in sorted(items, key=lambda i: (i["started_at"], i["call_sid"])):
            yield Call.from_item(item)

    def save_evaluations(self, call_sid: str, evaluations: EvaluationSet) -> bool:
        with self._lock:
            item = self.items.get(call_sid)
            if item is None or item.get("evaluations_version") == evaluations.version:
                return False
            self.writes += 1
            item.update(_evaluation_values(evaluations))
            return True

    def mark_summary_published(self, call_sid: str) -> None:
        with self._lock:
            item = self.items.get(call_sid)
            if item is not None and "summary" in item and "summary_event_at" not in item:
                self.writes += 1
                item["summary_event_at"] = self.now

    # ---- cost (issue 14) ----------------------------------------------------------------------

    def record_stream_usage(self, usage: StreamUsage) -> None:
        with self._lock:
            self.writes += 1
            item = self._item(usage.call_sid)
            item["live_audio_seconds"] = usage.live_audio_seconds
            if usage.tts_characters is not None:
                item["tts_characters"] = usage.tts_characters

    def save_cost(self, call_sid: str, cost: Mapping[str, Any], basis: CostBasis) -> bool:
        with self._lock:
            item = self.items.get(call_sid)
            if item is None or CostBasis.of(Call.from_item(item)) != basis:
                return False
            self.writes += 1
            item["cost"] = {name: value for name, value in cost.items() if value is not None}
            return True


def _evaluation_values(evaluations: EvaluationSet | None) -> dict[str, Any]:
    if evaluations is None:
        return {}
    return {
        "evaluations": [dict(answer) for answer in evaluations.answers],
        "evaluations_version": evaluations.version,
    }


class FakeSegments:
    """Segments by call, kept in sort-key order like the table's Query returns them."""

    def __init__(self, segments: Sequence[Segment] = ()) -> None:
        self.items: dict[tuple[str, str], Segment] = {}
        self._lock = threading.Lock()
        self.write_segments(segments)

    def write_segments(self, segments: Sequence[Segment]) -> None:
        with self._lock:
            for segment in segments:
                self.items[(segment.call_sid, segment.segment_key)] = segment

    def list_segments(self, call_sid: str) -> list[Segment]:
        with self._lock:
            return [self.items[key] for key in sorted(self.items) if key[0] == call_sid]

    def count_live_segments(self, call_sid: str) -> int:
        return sum(1 for segment in self.list_segments(call_sid) if not segment.from_recording)

    def page_segments(self, call_sid: str, *, limit: int, after: str | None = None) -> SegmentPage:
        """Like the adapter's one Query (without DynamoDB's 1 MB cut): `next_key` only when more follow."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        following = [s for s in self.list_segments(call_sid) if after is None or s.segment_key > after]
        page = following[:limit]
        return SegmentPage(page, page[-1].segment_key if len(following) > limit else None)

    def write_recording_segments(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            check_recording_segment(segment)
        self.write_segments(segments)

    def delete_recording_segments(self, call_sid: str, segment_keys: Sequence[str]) -> None:
        with self._lock:
            for key in segment_keys:
                check_recording_key(key)
                stored = self.items.get((call_sid, key))
                if stored is not None and stored.from_recording:  # the adapter's delete condition
                    del self.items[(call_sid, key)]


class FakePublisher:
    """Records published events; can be told to fail the next N publications."""

    def __init__(self, fail_times: int = 0) -> None:
        self.events: list[DomainEvent] = []
        self.fail_times = fail_times
        self._lock = threading.Lock()

    def publish(self, event: DomainEvent) -> None:
        with self._lock:
            if self.fail_times > 0:
                self.fail_times -= 1
                raise ConnectionError("bus unavailable")
            self.events.append(event)
