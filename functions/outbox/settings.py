"""Settings of the outbox Lambda, read from the environment when its service is built.

`EVENT_BUS_NAME` is the contract's bus; `OUTBOX_DEAD_LETTER_QUEUE_URL` is the queue a record no
retry can mend is parked in (the event source mapping's on-failure destination, so one queue and
one alarm hold everything the outbox could not announce).
"""

from __future__ import annotations

from shared.settings import EnvSettings


class OutboxSettings(EnvSettings):
    event_bus_name: str
    outbox_dead_letter_queue_url: str
