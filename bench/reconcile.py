"""Reconciliation of a synthetic 10-minute two-channel call: wall time, peak memory and Deepgram cost.

    .venv/bin/python bench/reconcile.py [--seconds 600] [--runs 7] [--no-stream-start] [--usd-per-minute P]

The call comes from tests/support/synthetic_call.py (seeded: the same call every run): ~3,000 words
per channel, live segments with timing noise and misrecognised words, a minute of inbound and 20 s
of outbound lost from live. Each run times the three pure steps the recordings Lambda will run:
parsing Deepgram's pre-recorded JSON (built from the call's words), estimating the offset, and
reconciling (`--no-stream-start`: the alignment searches the whole call with words alone, as when
the streamer stored no start time). Wall times are medians over `--runs`; peak memory is
tracemalloc's peak over one more run (Python allocations only, the JSON text included). The Deepgram
cost per call is what its pre-recorded API charges for the recording: it bills per channel, so
2 channels x the call's minutes x the per-minute price (`DEEPGRAM_PRERECORDED_USD_PER_MINUTE`, dated
below; `--usd-per-minute` for another price). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from functions.recordings.alignment import estimate_offset  # noqa: E402
from functions.recordings.deepgram_batch import parse_response  # noqa: E402
from functions.recordings.reconcile import reconcile, speaker_roles  # noqa: E402
from tests.support.synthetic_call import CALL_SID, SyntheticCall, synthetic_call  # noqa: E402

MISSING = {"inbound": [(120.0, 180.0)], "outbound": [(300.0, 320.0)]}
CHANNELS = 2  # a dual recording: Deepgram bills each channel's minutes

# Deepgram pre-recorded Nova-3, pay-as-you-go, USD per audio minute per channel: the price
# docs/deploy.md's cost table assumes, as of 2026-11-26 (source: deepgram.com/pricing). Prices
# change and plans (Growth, Enterprise) differ: verify current pricing before sizing a budget on it.
DEEPGRAM_PRERECORDED_USD_PER_MINUTE = 0.0043
DEEPGRAM_PRICE_AS_OF = "2026-11-26"


def deepgram_cost(call_seconds: float, usd_per_minute: float, channels: int = CHANNELS) -> dict[str, Any]:
    """What Deepgram's pre-recorded API charges for one call's recording."""
    channel_minutes = channels * call_seconds / 60
    return {
        "channels": channels,
        "channel_minutes": round(channel_minutes, 2),
        "usd_per_channel_minute": usd_per_minute,
        "price_as_of": (
            DEEPGRAM_PRICE_AS_OF if usd_per_minute == DEEPGRAM_PRERECORDED_USD_PER_MINUTE else "given"
        ),
        "usd_per_call": round(channel_minutes * usd_per_minute, 4),
    }


def deepgram_json(call: SyntheticCall) -> str:
    """The call's recording words as Deepgram's multichannel pre-recorded response."""
    channels = []
    for track in ("inbound", "outbound"):
        heard = [w for w in call.words if w.track == track]
        words = [
            {
                "word": w.text.lower().strip("."),
                "start": w.start,
                "end": w.end,
                "confidence": w.confidence,
                "punctuated_word": w.text,
            }
            for w in heard
        ]
        channels.append(
            {
                "alternatives": [
                    {
                        "transcript": " ".join(w.text for w in heard),
                        "confidence": 0.95,
                        "words": words,
                    }
                ]
            }
        )
    return json.dumps({"metadata": {"request_id": "bench", "channels": 2}, "results": {"channels": channels}})


def run_once(call: SyntheticCall, payload: str, stream_start: bool) -> tuple[dict[str, float], Any]:
    t0 = time.perf_counter()
    transcript = parse_response(payload)
    t1 = time.perf_counter()
    words = transcript.all_words()
    alignment = estimate_offset(
        words,
        call.live,
        recording_started_at=call.recording_started_at,
        stream_started_at=call.stream_started_at,
    )
    t2 = time.perf_counter()
    result = reconcile(CALL_SID, call.live, words, alignment, speaker_roles("forward"), "deepgram:nova-3")
    t3 = time.perf_counter()
    return {"parse": t1 - t0, "align": t2 - t1, "reconcile": t3 - t2, "total": t3 - t0}, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-stream-start", dest="stream_start", action="store_false")
    parser.add_argument(
        "--usd-per-minute",
        type=float,
        default=DEEPGRAM_PRERECORDED_USD_PER_MINUTE,
        help="Deepgram pre-recorded price per channel-minute "
        f"(default {DEEPGRAM_PRERECORDED_USD_PER_MINUTE}, as of {DEEPGRAM_PRICE_AS_OF}: "
        "verify current pricing)",
    )
    args = parser.parse_args()

    call = synthetic_call(seconds=args.seconds, missing=MISSING, live_errors=0.05, recording_errors=0.03)
    payload = deepgram_json(call)
    load_before = os.getloadavg()[0]
    timings = [run_once(call, payload, args.stream_start)[0] for _ in range(args.runs)]
    tracemalloc.start()
    _, result = run_once(call, payload, args.stream_start)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    per_track = {t: sum(w.track == t for w in call.words) for t in ("inbound", "outbound")}
    print(
        json.dumps(
            {
                "call_seconds": args.seconds,
                "recording_words": per_track,
                "live_segments": len(call.live),
                "lost_live_segments": len(call.dropped),
                "runs": args.runs,
                "median_ms": {
                    k: round(statistics.median(t[k] for t in timings) * 1000, 1) for k in timings[0]
                },
                "max_total_ms": round(max(t["total"] for t in timings) * 1000, 1),
                "peak_traced_mib": round(peak / 2**20, 2),
                "payload_mib": round(len(payload) / 2**20, 2),
                "offset": {
                    "true": call.offset,
                    "found": round(result.alignment.offset, 4),
                    "method": result.alignment.method,
                    "matches": result.alignment.matches,
                },
                "result": {
                    "added_segments": len(result.segments),
                    "gaps": len(result.gaps),
                    "filled_seconds": round(result.filled_seconds, 2),
                    "live_coverage": round(result.live_coverage, 4),
                    "source": result.transcript_source,
                },
                "deepgram_cost": deepgram_cost(args.seconds, args.usd_per_minute),
                "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
