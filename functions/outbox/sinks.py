"""Where the outbox sends a write's changes: the `Sink` port, and what a delivery reports.

A sink maps the changes it carries to its own messages and sends them; adding one changes neither
`changes.py` nor the other sinks (docs/architecture.md, "Events: the outbox", "Adding a sink").
What a sink must keep:
- raise for a failure a retry can mend: the whole record is retried, so every sink of it may see the
  same changes again and must tolerate a repeat;
- return a `Refusal` for a change it can never send (the record is parked in the dead-letter queue
  with the reasons, rather than blocking the shard);
- keep the order of the changes it is given (they are the record's own order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from functions.outbox.changes import Change


@dataclass(frozen=True)
class Refusal:
    """A change a sink can never send, and why (for the parked record and the operator)."""

    sink: str
    change: str  # the change's kind (its class name)
    reason: str

    def describe(self) -> str:
        return f"{self.sink}: {self.change}: {self.reason}"


@dataclass(frozen=True)
class Delivery:
    """What one sink did with one write's changes: the messages sent (by kind), the changes refused."""

    sent: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = field(default=())


class Sink(Protocol):
    name: str

    def deliver(self, changes: Sequence[Change]) -> Delivery:
        """Send the messages these changes make for this sink (none is fine); raise to be retried."""
        ...
