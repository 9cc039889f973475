"""The keys the data layer builds: segment sort keys and the sweeper's index partition.

Each is deterministic from the item's own values, so a retried or reordered write lands on the same
key (a segment overwrites itself, a call keeps its shard). A change here changes where existing
items are found: keep old keys readable (docs/data-model.md).
"""

from __future__ import annotations

import zlib

RECORDING_KEY_SUFFIX = "#r"
# what segment_key() and recording_segment_key() make: re.fullmatch a key from outside (a GET /calls cursor)
SEGMENT_KEY_PATTERN = r"[0-9]{10}#[a-z]{1,16}(?:#r)?"

SWEEP_SHARDS = 8  # partitions of the calls_to_sweep index (the sweeper queries each one)


def segment_key(start_seconds: float, track: str) -> str:
    """Sort key of a live segment, ordered by stream time then track: `0000012340#inbound`."""
    return f"{round(start_seconds * 1000):010d}#{track}"  # milliseconds, zero-padded to sort as numbers


def recording_segment_key(start_seconds: float, track: str) -> str:
    """Sort key of a segment filled in from the recording: the live key plus `#r`, so it never
    overwrites a live segment of the same millisecond and sorts right after it."""
    return segment_key(start_seconds, track) + RECORDING_KEY_SUFFIX


def check_recording_key(key: str) -> None:
    """Refuse a key that is not a recording segment's: what keeps the recordings tier off live items."""
    if not key.endswith(RECORDING_KEY_SUFFIX):
        raise ValueError(f"{key!r} is not a recording segment key (no {RECORDING_KEY_SUFFIX!r})")


def sweep_shard(call_sid: str) -> str:
    """The calls_to_sweep partition of a call: a stable hash of its SID, "0" to "7"."""
    return str(zlib.crc32(call_sid.encode()) % SWEEP_SHARDS)
