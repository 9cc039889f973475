"""Fake of `DynamoSweeperCalls`: the sparse index is the items holding both `sweep_shard` and
`sweep_after`; every marker write holds only while `sweep_after` is what the sweeper read; the
summaries' failure mark (only without a summary) is shared with `FakeSummaryCalls`, and the status
writes are `FakeCallStatusWrites`' (the webhooks' own)."""

from __future__ import annotations

from shared.dal.records import SweepClaim, SweepDeferral
from shared.status import TranscriptStatus
from tests.support.fake_calls.core import TRANSCRIPT_ERROR_MAX, Item
from tests.support.fake_calls.status import FakeCallStatusWrites
from tests.support.fake_calls.summaries import FakeSummaryFailureWrites

_LIVE = (TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value)


class FakeSweeperCalls(FakeCallStatusWrites, FakeSummaryFailureWrites):
    def calls_due_for_sweep(self, cutoff: str, limit: int) -> list[str]:
        due = self.table.query(
            lambda item: "sweep_shard" in item and "sweep_after" in item and item["sweep_after"] <= cutoff
        )
        return [item["call_sid"] for item in sorted(due, key=lambda i: (i["sweep_after"], i["call_sid"]))][
            :limit
        ]

    def finish_stalled_transcript(
        self, call_sid: str, segment_count: int, error: str, stale_before: str
    ) -> bool:
        def stalled(item: Item) -> bool:
            heartbeat = item.get("stream_heartbeat_at")
            dead = "stream_owner" not in item or heartbeat is None or heartbeat < stale_before
            return item.get("transcript_status") in _LIVE and dead

        def apply(item: Item) -> None:
            item.update(
                transcript_status=TranscriptStatus.INCOMPLETE.value,
                segment_count=segment_count,
                transcript_error=error[:TRANSCRIPT_ERROR_MAX],
                transcript_completed_at=self.table.now,
                transcript_swept_at=self.table.now,
            )

        return self.table.update(call_sid, apply, stalled)

    def claim_sweep(self, claim: SweepClaim) -> bool:
        def apply(item: Item) -> None:
            item.update(sweep_after=claim.next_after, sweep_attempts=claim.attempts, swept_at=self.table.now)

        return self.table.update(
            claim.call_sid, apply, lambda item: item.get("sweep_after") == claim.expected_after
        )

    def release_sweep(self, claim: SweepClaim) -> None:
        def apply(item: Item) -> None:
            item.update(sweep_after=claim.expected_after, sweep_attempts=claim.attempts - 1)

        self.table.update(claim.call_sid, apply, lambda item: item.get("sweep_after") == claim.next_after)

    def defer_sweep(self, deferral: SweepDeferral) -> bool:
        def apply(item: Item) -> None:
            item.update(sweep_after=deferral.next_after, swept_at=self.table.now)
            if deferral.twilio_asks is not None:
                item.update(twilio_asks=deferral.twilio_asks, twilio_asked_at=self.table.now)

        return self.table.update(
            deferral.call_sid, apply, lambda item: item.get("sweep_after") == deferral.expected_after
        )

    def settle_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=False)

    def park_sweep(self, call_sid: str, expected_after: str) -> bool:
        return self._unmark(call_sid, expected_after, gave_up=True)

    def settle_live_only(self, call_sid: str, expected_after: str, transcript_status: str) -> bool:
        def settleable(item: Item) -> bool:
            return (
                item.get("sweep_after") == expected_after
                and item.get("recording_expected") is False
                and item.get("reconciled_at") is None
                and item.get("transcript_status") == transcript_status
            )

        def apply(item: Item) -> None:
            item.pop("sweep_shard", None)
            item.pop("sweep_after", None)
            item.update(
                swept_at=self.table.now,
                transcript_source="live",
                gaps=[],
                filled_seconds=0,
                reconciled_transcript_status=transcript_status,
                reconciled_at=self.table.now,
            )

        return self.table.update(call_sid, apply, settleable)

    def _unmark(self, call_sid: str, expected_after: str, *, gave_up: bool) -> bool:
        def apply(item: Item) -> None:
            item.pop("sweep_shard", None)
            item.pop("sweep_after", None)
            item["swept_at"] = self.table.now
            if gave_up:
                item["sweep_gave_up_at"] = self.table.now

        return self.table.update(call_sid, apply, lambda item: item.get("sweep_after") == expected_after)
