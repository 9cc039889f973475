"""Agent latency: from the caller's final words to the first byte of the agent's answer.

Runs the real streamer in agent mode against the local stand-ins (Deepgram listen + speak, the
Anthropic Messages API, Twilio REST, moto), with every vendor stand-in answering at once (no added
vendor latency), and N concurrent calls of T turns each. Per turn the phone says a word plus the
0.5 s of silence the (scripted) recognizer needs to call it `speech_final`, then waits for the
answer to play. Two figures per turn:

- streamer: the turn's end (Deepgram's `speech_final` read by the streamer) → the first agent audio
  byte written to Twilio (the `AgentFirstAudioLatency` metric): model request, first streamed
  sentence, TTS round trip, relay. This is what the ≤ 300 ms target is about;
- phone: the last frame of the caller's utterance sent → the first agent audio frame received, i.e.
  the above plus the recognizer's processing of the last block and both Twilio-side hops.

`python bench/agent_latency.py --calls 4 --turns 25` prints both distributions as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ANSWER = "Sure, happy to help. Anything else?"


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "n": len(ordered),
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


async def _call(rig: Any, turns: int, phone_ms: list[float]) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    phone = rig.phone(call_sid)
    from tests.support.agent_harness import call_parameters

    await phone.answer(call_parameters(call_sid))
    await phone.wait_until(lambda: len(phone.echoed) >= 1, within=15)
    for _ in range(turns):
        before = len(phone.events("media"))
        await phone.say(["alpha", None])
        said = phone.said_at[-1]
        await phone.wait_until(lambda n=before: len(phone.events("media")) > n, within=15)
        first = phone.events("media")[before].at
        phone_ms.append((first - said) * 1000)
        await phone.wait_quiet(within=15)
        await asyncio.sleep(0.1)
    await phone.hang_up()


async def main(calls: int, turns: int) -> dict[str, Any]:
    from callscribe_local.anthropic_replies import Reply
    from callscribe_local.aws_local import LocalNames, local_aws
    from tests.support.agent_harness import agent_rig

    names = LocalNames("bench-calls", "bench-transcripts", "bench-idempotency", "bench-bus")
    phone_ms: list[float] = []
    started = time.monotonic()
    with local_aws(names) as local:
        async with agent_rig(local, default=lambda request: Reply.message(ANSWER)) as rig:
            await asyncio.gather(*(_call(rig, turns, phone_ms) for _ in range(calls)))
            from tests.support.streamer_harness import wait_for_call_end

            await wait_for_call_end(rig.server, within=30)
            streamer_ms = list(rig.server._deps.metrics.first_audio_total)  # the metrics sink
    return {
        "calls": calls,
        "turns_per_call": turns,
        "streamer_turn_end_to_first_audio_ms": _percentiles(streamer_ms),
        "phone_last_frame_to_first_audio_ms": _percentiles(phone_ms),
        "wall_seconds": round(time.monotonic() - started, 1),
        "python": platform.python_version(),
        "cpus": len(__import__("os").sched_getaffinity(0)),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--turns", type=int, default=25)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)  # the streamer's per-turn logs would dominate the output
    print(json.dumps(asyncio.run(main(args.calls, args.turns)), indent=2))
