"""`DynamoSweeperCalls`: the sweeper's reads and writes of the call record (`SweeperCalls`).

The marker (`sweep_shard` + `sweep_after`) puts a call in the sparse calls_to_sweep index; removing
both takes it out. What a change must keep: every marker write is conditional on `sweep_after` still
holding the value the sweeper read, so overlapping runs and a concurrent status callback never
re-drive a call twice; a stalled transcript is finished only while still `pending`/`in-progress`
and its stream is dead (never claimed, or its heartbeat stale), and says that the sweeper ended it;
a summary that never came is marked failed with the summaries' own write (`summary_failed`, never on
a call that has a summary). What Twilio's REST API says of a call is written by
`DynamoCallStatusWrites`, as the webhooks write it.
"""

from __future__ import annotations

from typing import Any

from shared.dal.calls.core import TRANSCRIPT_ERROR_MAX
from shared.dal.calls.status import DynamoCallStatusWrites
from shared.dal.calls.summaries import DynamoSummaryFailureWrites
from shared.dal.keys import SWEEP_SHARDS
from shared.dal.records import SweepClaim, SweepDeferral
from shared.status import TranscriptStatus

TRANSCRIPT_SOURCE_LIVE = "live"  # what a call recorded by nothing is reconciled as


class DynamoSweeperCalls(DynamoCallStatusWrites, DynamoSummaryFailureWrites):
    """`SweeperCalls`: the due calls, a stalled transcript, a summary marked failed, the marker's
    claim, release, deferral and removal, and (`DynamoCallStatusWrites`) what Twilio says of a call
    whose callbacks were lost."""

    def calls_due_for_sweep(self, cutoff: str, limit: int) -> list[str]:
        m = self._table.model
        due: list[tuple[str, str]] = []
        for shard in range(SWEEP_SHARDS):
            for item in self._table.query(
                m.calls_to_sweep,
                str(shard),
                m.sweep_after <= cutoff,
                what="reading the calls due for the sweeper",
                limit=limit,
                page_size=min(limit, 1000),
            ):
                due.append((str(item.sweep_after), item.call_sid))
        return [call_sid for _, call_sid in sorted(due)[:limit]]

    def finish_stalled_transcript(
        self, call_sid: str, segment_count: int, error: str, stale_before: str
    ) -> bool:
        m = self._table.model
        stamp = self._table.now()
        dead = (
            m.stream_owner.does_not_exist()
            | m.stream_heartbeat_at.does_not_exist()
            | (m.stream_heartbeat_at < stale_before)
        )
        return self._table.update(
            call_sid,
            [
                m.transcript_status.set(TranscriptStatus.INCOMPLETE.value),
                m.segment_count.set(segment_count),
                m.transcript_error.set(error[:TRANSCRIPT_ERROR_MAX]),
                m.transcript_completed_at.set(stamp),
                m.transcript_swept_at.set(stamp),
                m.updated_at.set(stamp),
            ],
            m.transcript_status.is_in(TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value)
            & dead,
            f"sweeping the transcript of {call_sid}",
        )

    def claim_sweep(self, claim: SweepClaim) -> bool:
        m = self._table.model
        now = self._table.now()
        return self._table.update(
            claim.call_sid,
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
        m = self._table.model
        self._table.update(
            claim.call_sid,
            [m.sweep_after.set(claim.expected_after), m.sweep_attempts.set(claim.attempts - 1)],
            m.sweep_after == claim.next_after,
            f"releasing the sweep claim of {claim.call_sid}",
        )

    def defer_sweep(self, deferral: SweepDeferral) -> bool:
        m = self._table.model
        now = self._table.now()
        actions: list[Any] = [
            m.sweep_after.set(deferral.next_after),
            m.swept_at.set(now),
            m.updated_at.set(now),
        ]
        if deferral.twilio_asks is not None:
            actions += [m.twilio_asks.set(deferral.twilio_asks), m.twilio_asked_at.set(now)]
        return self._table.update(
            deferral.call_sid,
            actions,
            m.sweep_after == deferral.expected_after,
            f"deferring the sweep of {deferral.call_sid}",
        )

    def settle_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=False)

    def park_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=True)

    def settle_live_only(self, call_sid: str, expected_after: str, transcript_status: str) -> bool:
        m = self._table.model
        now = self._table.now()
        return self._table.update(
            call_sid,
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
        m = self._table.model
        now = self._table.now()
        actions: list[Any] = [
            m.sweep_shard.remove(),
            m.sweep_after.remove(),
            m.swept_at.set(now),
            m.updated_at.set(now),
        ]
        if gave_up:
            actions.append(m.sweep_gave_up_at.set(now))
        return self._table.update(
            call_sid,
            actions,
            m.sweep_after == expected_after,
            f"{'parking' if gave_up else 'settling'} {call_sid} for the sweeper",
        )
