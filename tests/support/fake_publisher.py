"""An in-memory `EventPublisher` / `BatchEventPublisher` that records what was published and can fail
on demand."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shared.events import DomainEvent


class FakePublisher:
    """Records published events; can be told to fail the next N publications (a batch is one)."""

    def __init__(self, fail_times: int = 0) -> None:
        self.events: list[DomainEvent] = []
        self.fail_times = fail_times
        self._lock = threading.Lock()

    def publish(self, event: DomainEvent) -> None:
        self.publish_all([event])

    def publish_all(self, events: Sequence[DomainEvent]) -> None:
        with self._lock:
            if self.fail_times > 0:
                self.fail_times -= 1
                raise ConnectionError("bus unavailable")
            self.events.extend(events)
