"""One sweeper run: read the due calls from the sparse index, then settle, re-drive or park each.

What a change must keep:
- sweeping twice changes nothing: every action is taken under a claim (a conditional write moving
  `sweep_after` from the value read to now + backoff), and settling is conditional on the marker too;
- a call out of attempts is parked (`sweep_gave_up_at`, `SweepGaveUp`), never re-driven forever;
- a failed publication releases the claim; one call's failure does not stop the run, which raises
  at the end;
- the cost is checked against the final record before settling (the last writer that can fix it).
Why and the order inside a claim: docs/recordings.md, "Sweeping twice changes nothing".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from functions.sweeper import metric_names as names
from functions.sweeper.rules import (
    SweepPlan,
    leave_to_the_outbox,
    plan_sweep,
    recording_event,
    stalled_transcript_error,
    transcript_event,
)
from functions.sweeper.settings import SweeperSettings
from functions.sweeper.twilio_check import TwilioCheck, TwilioPolicy, TwilioTally
from shared import clock
from shared.costs import Prices, call_cost, record_cost, same_cost
from shared.dal.ports import SegmentCounter, SweeperCalls
from shared.dal.records import Call, SweepClaim
from shared.errors import CallscribeError
from shared.events import DomainEvent, EventPublisher, RecordingCompleted
from shared.observability import logger, metrics

# Seconds of the Lambda's time kept back: no new call is started with less than this left.
SAFETY_SECONDS = 20.0

Outcome = Literal["settled", "redriven", "waiting", "gave-up", "skipped"]


class MetricSink(Protocol):
    def add_metric(self, *, name: str, unit: MetricUnit, value: float) -> None: ...


class SweepIncompleteError(CallscribeError):
    """Some calls could not be swept this run (each is retried next run); the rest were."""


@dataclass(frozen=True)
class SweepPolicy:
    after_seconds: int = 600
    stream_stale_seconds: int = 300
    backoff_seconds: int = 900
    max_backoff_seconds: int = 6 * 3600
    max_attempts: int = 5
    max_calls: int = 1000

    @classmethod
    def of(cls, settings: SweeperSettings) -> SweepPolicy:
        return cls(
            after_seconds=settings.sweep_after_seconds,
            stream_stale_seconds=settings.stream_heartbeat_stale_seconds,
            backoff_seconds=settings.sweep_backoff_seconds,
            max_backoff_seconds=settings.sweep_max_backoff_seconds,
            max_attempts=settings.sweep_max_attempts,
            max_calls=settings.sweep_max_calls,
        )

    def backoff(self, attempt: int) -> timedelta:
        """How much later than now the call's patience starts again after attempt `attempt` (1, 2, …)."""
        return timedelta(seconds=min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)))


@dataclass
class SweepReport:
    """What one run did (the handler's return value, and the run's log line)."""

    due: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    transcripts_finished: int = 0
    transcript_events: int = 0
    recording_events: int = 0
    costs_repaired: int = 0
    summaries_failed: int = 0
    twilio: TwilioTally = field(default_factory=TwilioTally)
    failed: list[str] = field(default_factory=list)
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "settled": self.outcomes["settled"],
            "redriven": self.outcomes["redriven"],
            "waiting": self.outcomes["waiting"],
            "gaveUp": self.outcomes["gave-up"],
            "skipped": self.outcomes["skipped"],
            "transcriptsFinished": self.transcripts_finished,
            "transcriptCompletedRepublished": self.transcript_events,
            "recordingCompletedRepublished": self.recording_events,
            "costsRepaired": self.costs_repaired,
            "summariesMarkedFailed": self.summaries_failed,
            "twilioRequests": self.twilio.requests,
            "twilioFailures": self.twilio.failures,
            "statusesFromTwilio": self.twilio.statuses,
            "recordingsFromTwilio": self.twilio.recordings,
            "pricesFromTwilio": self.twilio.prices,
            "failed": list(self.failed),
            "stoppedEarly": self.stopped_early,
        }


class SweeperService:
    def __init__(
        self,
        policy: SweepPolicy,
        calls: SweeperCalls,
        segments: SegmentCounter,
        publisher: EventPublisher,
        *,
        prices: Prices | None = None,
        twilio: TwilioCheck | None = None,
        now: Callable[[], datetime] = clock.now,
        metric_sink: MetricSink = metrics,
    ) -> None:
        self._policy = policy
        self._prices = prices or Prices()
        self._calls = calls
        self._segments = segments
        self._publisher = publisher
        # without a reader Twilio is never asked; calls with no terminal status still wait their time
        self._twilio = twilio or TwilioCheck(TwilioPolicy(), calls, None, prices=self._prices, now=now)
        self._now = now
        self._metrics = metric_sink

    def sweep(self, remaining_seconds: Callable[[], float] | None = None) -> SweepReport:
        """One run over the due calls, oldest first; raises SweepIncompleteError at the end if any failed."""
        policy = self._policy
        started = self._now()
        cutoff = clock.iso(started - timedelta(seconds=policy.after_seconds))
        due = self._calls.calls_due_for_sweep(cutoff, policy.max_calls)
        report = SweepReport(
            due=len(due), stopped_early=len(due) >= policy.max_calls, twilio=self._twilio.start_run()
        )
        for call_sid in due:
            if remaining_seconds is not None and remaining_seconds() < SAFETY_SECONDS:
                report.stopped_early = True
                break
            try:
                report.outcomes[self._sweep_call(call_sid, cutoff, report)] += 1
            except Exception:  # noqa: BLE001 - one call's failure must not cost the others their sweep
                logger.exception("sweeping a call failed; next run retries", extra={"call_sid": call_sid})
                report.failed.append(call_sid)
        self._record(report)
        logger.info("sweep finished", extra={"cutoff": cutoff, **report.as_dict()})
        if report.failed:
            failed = report.failed
            raise SweepIncompleteError(f"{len(failed)} of {len(due)} due calls failed: {failed[:10]}")
        return report

    # ---- one call ---------------------------------------------------------------------------------

    def _sweep_call(self, call_sid: str, cutoff: str, report: SweepReport) -> Outcome:
        call = self._calls.get(call_sid)
        if call is None or not _due(call, cutoff):
            return "skipped"  # the index lags the table: settled or re-armed since
        look = self._twilio.look(call)
        if look.outcome is not None:
            return look.outcome
        read, call = call, look.call
        marker = call.sweep_after
        if marker is None or not _due(call, cutoff):
            return "waiting"  # Twilio's answer ended the call just now: a later run sweeps it
        stale_before = clock.iso(self._now() - timedelta(seconds=self._policy.stream_stale_seconds))
        plan = leave_to_the_outbox(plan_sweep(call, stale_before), read, call)
        if plan.settled:
            if look.price_pending:
                return self._twilio.defer_for_price(call, look)  # settled once Twilio's bill is read
            self._repair_cost(call, report)
            if plan.live_only and call.transcript_status is not None:
                settled = self._calls.settle_live_only(call_sid, marker, call.transcript_status)
            else:
                settled = self._calls.settle_sweep(call_sid, marker)
            return "settled" if settled else "skipped"
        attempts = call.sweep_attempts or 0
        if attempts >= self._policy.max_attempts:
            if not self._calls.park_sweep(call_sid, marker):
                return "skipped"
            logger.error(
                "the sweeper gives up on this call: an operator has to look",
                extra={"call_sid": call_sid, "attempts": attempts, "open": list(plan.reasons)},
            )
            return "gave-up"
        claim = SweepClaim(
            call_sid=call_sid,
            expected_after=marker,
            next_after=clock.iso(self._now() + self._policy.backoff(attempts + 1)),
            attempts=attempts + 1,
        )
        if not self._calls.claim_sweep(claim):
            return "skipped"  # another run has it, or a callback moved the marker
        logger.info(
            "sweeping a call",
            extra={"call_sid": call_sid, "attempt": claim.attempts, "open": list(plan.reasons)},
        )
        if not plan.redrives:
            return "waiting"
        try:
            self._redrive(call, plan, stale_before, report)
        except Exception:
            self._release(claim)
            raise
        return "redriven"

    def _redrive(self, call: Call, plan: SweepPlan, stale_before: str, report: SweepReport) -> None:
        events: list[DomainEvent] = []
        if plan.finish_transcript:
            count = self._segments.count_live_segments(call.call_sid)
            error = stalled_transcript_error(count, self._policy.after_seconds)
            # announced by the outbox as `Transcript Completed` when it lands; refused when the
            # stream ended meanwhile (its own ending was announced the same way) or showed a sign of
            # life (it will end it)
            if self._calls.finish_stalled_transcript(call.call_sid, count, error, stale_before):
                report.transcripts_finished += 1
        elif plan.transcript_completed:
            if plan.summary_failed and self._calls.summary_failed(call.call_sid):
                report.summaries_failed += 1
            events.append(transcript_event(call))
        if plan.recording_completed:
            events.append(recording_event(call))
        for event in events:
            self._publisher.publish(event)
            if isinstance(event, RecordingCompleted):
                report.recording_events += 1
            else:
                report.transcript_events += 1

    def _repair_cost(self, call: Call, report: SweepReport) -> None:
        """Store the cost of the final record if the stored one says otherwise (never raises: a
        failure is logged, and the call is settled all the same)."""
        if same_cost(call.cost, call_cost(call, self._prices)):
            return
        stored = record_cost(self._calls, call.call_sid, self._prices, on_error=logger.warning)
        if stored is not None:
            report.costs_repaired += 1
            logger.info("stale cost repaired", extra={"call_sid": call.call_sid})

    def _release(self, claim: SweepClaim) -> None:
        try:
            self._calls.release_sweep(claim)
        except Exception:  # noqa: BLE001 - the claim then simply expires with its backoff
            logger.exception("releasing a sweep claim failed", extra={"call_sid": claim.call_sid})

    # ---- metrics ----------------------------------------------------------------------------------

    def _record(self, report: SweepReport) -> None:
        counts = {
            names.CALLS_EXAMINED: report.due,
            names.CALLS_SETTLED: report.outcomes["settled"],
            names.CALLS_REDRIVEN: report.outcomes["redriven"],
            names.CALLS_WAITING: report.outcomes["waiting"],
            names.GAVE_UP: report.outcomes["gave-up"],
            names.TRANSCRIPTS_FINISHED: report.transcripts_finished,
            names.TRANSCRIPT_EVENTS: report.transcript_events,
            names.RECORDING_EVENTS: report.recording_events,
            names.COSTS_REPAIRED: report.costs_repaired,
            names.SUMMARIES_FAILED: report.summaries_failed,
            names.TWILIO_REQUESTS: report.twilio.requests,
            names.TWILIO_FAILURES: report.twilio.failures,
            names.STATUSES_FROM_TWILIO: report.twilio.statuses,
            names.RECORDINGS_FROM_TWILIO: report.twilio.recordings,
            names.PRICES_FROM_TWILIO: report.twilio.prices,
            names.FAILURES: len(report.failed),
            names.BACKLOG: int(report.stopped_early),
        }
        for name, value in counts.items():
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _due(call: Call, cutoff: str) -> bool:
    return call.sweep_after is not None and call.sweep_after <= cutoff
