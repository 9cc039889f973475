"""How long a call record's write waits to be announced on the bus by the local outbox.

    .venv/bin/python bench/outbox_latency.py [--calls 40] [--poll 0.05]

moto in server mode, the product's tables (the calls table with its stream), the local event source
mapping (`callscribe_local.outbox.LocalOutbox`) invoking the outbox's handler code, and a tap on the
bus. Each sample writes one terminal status through the webhooks' data-layer adapter (the write
`Call Completed` announces) and waits for the event to reach the tap's queue: the delay a local call's
`Call Completed`, `Transcript Completed` or `Summary Created` now has, against the write itself.
Prints the write's own time and the write-to-event delay (p50, p90, max) in ms. In AWS the mapping
polls each shard four times a second instead (docs/architecture.md, "Events: the outbox").
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from callscribe_local.aws_local import BusTap, LocalNames, local_aws  # noqa: E402
from callscribe_local.outbox import LocalOutbox, StreamPolicy  # noqa: E402
from functions.outbox.app import build_outbox, create_handler  # noqa: E402
from functions.outbox.settings import OutboxSettings  # noqa: E402
from functions.webhooks.cdr import StatusChange, advance  # noqa: E402
from shared import clock  # noqa: E402
from shared.dal.calls.webhooks import DynamoWebhookCalls  # noqa: E402
from shared.status import CallStatus  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(calls: int, poll: float) -> dict[str, float]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    names = LocalNames(calls_table="bench-outbox-calls", event_bus_name="bench-outbox-bus")
    with local_aws(names) as stack:
        dead_letters = LocalOutbox.create_dead_letter_queue("bench-outbox-dlq")
        settings = OutboxSettings.from_env(
            {"EVENT_BUS_NAME": names.event_bus_name, "OUTBOX_DEAD_LETTER_QUEUE_URL": dead_letters}
        )
        runtime = build_outbox(settings)
        tap = BusTap(bus_name=names.event_bus_name)
        store = DynamoWebhookCalls(stack.names.calls_table)
        writes: list[float] = []
        delays: list[float] = []
        with LocalOutbox(
            names.calls_table,
            create_handler(lambda: runtime),
            dead_letter_queue_url=dead_letters,
            policy=StreamPolicy(poll_interval=poll),
        ) as outbox:
            outbox.wait_idle()
            for _ in range(calls):
                call_sid = "CA" + uuid.uuid4().hex
                change = StatusChange(call_sid, CallStatus.COMPLETED, clock.now_iso(), duration_seconds=5)
                started = time.perf_counter()
                advance(store, change)
                written = time.perf_counter()
                while not [e for e in tap.receive() if e["detail"]["callSid"] == call_sid]:
                    time.sleep(0.002)
                delays.append((time.perf_counter() - written) * 1000)
                writes.append((written - started) * 1000)
    return {
        "calls": calls,
        "poll_interval_ms": poll * 1000,
        "write_p50_ms": round(statistics.median(writes), 1),
        "announce_p50_ms": round(statistics.median(delays), 1),
        "announce_p90_ms": round(percentile(delays, 0.9), 1),
        "announce_max_ms": round(max(delays), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument(
        "--poll", type=float, default=StreamPolicy().poll_interval, help="idle poll interval, s"
    )
    args = parser.parse_args()
    print(json.dumps(measure(args.calls, args.poll), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
