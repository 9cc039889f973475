"""One write of a call record announced: its changes found, every sink given them, nothing lost.

The handler (`app.py`) parses each stream record and calls `Outbox.announce` in stream order. The
transitions are pure (`changes.py`); each sink maps them to its own messages (`sinks.py`). A sink
that fails raises, and the record is retried by the event source mapping (every sink may see it
again); a change a sink can never send, or a record that is no call record, is parked in the
dead-letter queue with the reasons instead, so one bad record never holds up the stream behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from functions.outbox import metric_names as names
from functions.outbox.changes import changes
from functions.outbox.inputs import WrittenRecord, log_number
from functions.outbox.sinks import Refusal, Sink
from shared.observability import logger, metrics


class MetricSink(Protocol):
    def add_metric(self, *, name: str, unit: MetricUnit, value: float) -> None: ...


class DeadLetters(Protocol):
    def park(self, record: Mapping[str, Any], reasons: Sequence[str]) -> None:
        """Keep a stream record no retry can announce, with why (raises when it cannot be kept)."""
        ...


@dataclass(frozen=True)
class Announced:
    """What one write's announcement did (the handler's log line)."""

    call_sid: str | None
    changes: tuple[str, ...]
    sent: tuple[str, ...]
    refused: tuple[Refusal, ...]


class Outbox:
    def __init__(
        self, sinks: Sequence[Sink], dead_letters: DeadLetters, *, metric_sink: MetricSink = metrics
    ) -> None:
        self._sinks = tuple(sinks)
        self._dead_letters = dead_letters
        self._metrics = metric_sink

    def announce(self, written: WrittenRecord, raw: Mapping[str, Any]) -> Announced:
        """Give the write's changes to every sink, in order; park the record if any refused a change.

        Raises whatever a sink raised (the record is to be retried)."""
        found = changes(written.old, written.new)
        self._count(names.RECORDS)
        self._count(names.CHANGES, len(found))
        sent: list[str] = []
        refused: list[Refusal] = []
        for sink in self._sinks:
            delivery = sink.deliver(found)
            sent += delivery.sent
            refused += delivery.refused
        self._count(names.EVENTS_PUBLISHED, len(sent))
        kinds = tuple(type(change).__name__ for change in found)
        announced = Announced(written.call_sid, kinds, tuple(sent), tuple(refused))
        if refused:
            self.park(raw, [refusal.describe() for refusal in refused], call_sid=written.call_sid)
        if found:
            logger.info(
                "call record change announced",
                extra={
                    "call_sid": written.call_sid,
                    "sequence_number": log_number(written.sequence_number),
                    "changes": list(announced.changes),
                    "sent": list(announced.sent),
                },
            )
        return announced

    def park(self, raw: Mapping[str, Any], reasons: Sequence[str], *, call_sid: str | None = None) -> None:
        """Send a record to the dead-letter queue (its alarm fires) instead of retrying it."""
        self._dead_letters.park(raw, reasons)
        self._count(names.RECORDS_PARKED)
        logger.error(
            "call record change parked in the outbox's dead-letter queue: retrying cannot announce it",
            extra={"call_sid": call_sid, "reasons": list(reasons)},
        )

    def _count(self, name: str, value: float = 1) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
