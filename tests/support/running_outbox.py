"""The outbox as tests run it: a calls table's stream → the outbox handler → a bus, in-process.

`running_outbox` starts the local stack's poller (`callscribe_local.outbox`) on one calls table with
the Lambda's own handler code; `AnnouncedBusTap` reads a bus only once that outbox has announced
every write made before the read, so a test sees all the events of what it did (or that there are
none), not the first few.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from callscribe_local.aws_local import BusTap
from callscribe_local.outbox import LocalOutbox
from functions.outbox.app import build_outbox, create_handler
from functions.outbox.settings import OutboxSettings


@contextmanager
def running_outbox(calls_table: str, bus_name: str, dead_letter_queue: str) -> Iterator[LocalOutbox]:
    """The outbox on `calls_table`'s stream, publishing to `bus_name`, parking in a queue of that
    name (created here), until the block ends."""
    settings = OutboxSettings.from_env(
        {
            "EVENT_BUS_NAME": bus_name,
            "OUTBOX_DEAD_LETTER_QUEUE_URL": LocalOutbox.create_dead_letter_queue(dead_letter_queue),
        }
    )
    runtime = build_outbox(settings)
    handler = create_handler(lambda: runtime)
    with LocalOutbox(
        calls_table, handler, dead_letter_queue_url=settings.outbox_dead_letter_queue_url
    ) as running:
        yield running


class AnnouncedBusTap(BusTap):
    """A tap that reads the bus once `outbox` is idle (every earlier write announced)."""

    def __init__(self, bus_name: str, outbox: LocalOutbox) -> None:
        super().__init__(bus_name=bus_name)
        self.outbox = outbox

    def receive(self, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        self.outbox.wait_idle()
        return super().receive(wait_seconds)
