"""`python -m streamer` with one measuring hook, for bench/feed_latency.py.

After each segment is stored (the writer thread's conditional put returned), the wall-clock time is
appended to the file named by FEED_BENCH_STORED (`callSid key time`; the feed's events were queued
just before, a few microseconds). The hook
runs whether or not the feed is on, so both streamers of a run pay the same for it.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.segments import WRITTEN, SegmentStore

_out = Path(os.environ["FEED_BENCH_STORED"]).open("a", buffering=1)  # noqa: SIM115 - for the process's life
_write = SegmentStore._write


def _timed_write(self: SegmentStore, item: Any) -> str:
    outcome = _write(self, item)
    if outcome == WRITTEN:
        _out.write(f"{item.writes.call_sid} {item.key} {time.time():.6f}\n")
    return outcome


SegmentStore._write = _timed_write  # type: ignore[method-assign]
runpy.run_module("streamer", run_name="__main__", alter_sys=True)
