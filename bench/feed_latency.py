"""Live feed: how long from a segment stored to a subscriber receiving it, and what publishing costs.

Each round runs two streamers side by side, one publishing to the feed and one not (no
FEED_HTTP_URL), each with `--calls` concurrent both-track calls, both pinned to the same core
(`--core`) so whatever else the machine is doing hits them alike; their CPU % over the same window
(from /proc) is the cost of publishing, in the same run. Everything else runs on the other core(s):
moto with its Cognito (its own process), the call generator and a sink Deepgram that answers every
`--final-every` seconds of a track's audio with a final of three words (this process), and the feed's
side (bench/feed_side.py, its own process): the AppSync Events stand-in (SigV4 HTTP publish, realtime
WebSocket) and a subscriber connection per call of the publishing streamer on `/calls/{callSid}`,
plus one on `/calls/live`, as viewers in the console would have.

Latency: from the moment the streamer's segment write returned (wall clock, recorded by the hook in
bench/feed_stored_clock.py) to the subscriber reading the `data` message (wall clock, this process),
split at the moment the publish request reached the stand-in (wall clock, the feed's process). Prints
one JSON line per round and a summary line, with the machine's load average: the numbers are only
as quiet as the machine.

`python bench/feed_latency.py --calls 50 --rounds 3` (~3 min at the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import streamer_load as load  # noqa: E402 - the streamer load bench's call generator and helpers

FINAL = (
    '{"type":"Results","channel_index":[0,1],"duration":%(d).3f,"start":%(s).3f,"is_final":true,'
    '"speech_final":true,"channel":{"alternatives":[{"transcript":"feed bench %(n)d","confidence":0.9,'
    '"words":[{"word":"feed","start":%(w0).3f,"end":%(w1).3f,"confidence":0.9},'
    '{"word":"bench","start":%(w1).3f,"end":%(w2).3f,"confidence":0.9},'
    '{"word":"%(n)d","start":%(w2).3f,"end":%(w3).3f,"confidence":0.9}]}]},'
    '"metadata":{"request_id":"bench","model_info":{"name":"sink","version":"0","arch":"sink"},'
    '"model_uuid":"sink"},"from_finalize":false}'
)


class WordSink(load.SinkConnection):
    """The streamer load bench's sink Deepgram, answering a final with words every `every` seconds."""

    every = 3.0

    def audio(self, buf: bytearray, pos: int, length: int, mask: bytes, now: float) -> None:
        before = self.received
        self.received += length
        step = int(self.every * 8000)
        if self.received // step > before // step and self.transport is not None:
            n = self.received // step
            start = (n - 1) * self.every
            words = {"w0": start + 0.2, "w1": start + 0.6, "w2": start + 1.0, "w3": start + 1.4}
            text = FINAL % {"d": self.every, "s": start, "n": n, **words}
            self.transport.write(load.server_frame(1, text.encode()))


def start_streamer(
    port: int, sink_url: str, core: int, env: dict[str, str], calls: int
) -> subprocess.Popen[bytes]:
    """The streamer (with the stored-clock hook), pinned to `core`, as streamer_load starts it."""
    env = {
        **env,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DEEPGRAM_URL": sink_url,
        "DEEPGRAM_API_KEY": "bench-key",
        "TWILIO_AUTH_TOKEN": load.TOKEN,
        "STREAM_URL": load.STREAM_URL,
        "MAX_CALLS": str(calls + 10),
        # every call comes from this one address (Twilio's come from many): not a flood here
        "MAX_PENDING_STREAMS_PER_ADDRESS": str(calls + 10),
        "DRAIN_SECONDS": "10",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "METRICS_INTERVAL_SECONDS": "60",
    }
    command = [sys.executable, str(REPO / "bench" / "feed_stored_clock.py")]
    return subprocess.Popen(
        ["taskset", "-c", str(core), *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def start_feed_side(
    rig: dict[str, Any], channels: list[str], out: Path, cores: str
) -> tuple[Any, dict[str, str]]:
    """bench/feed_side.py on the other core(s): the stand-in and one subscriber per channel."""
    env = {
        **os.environ,
        "FEED_BENCH_POOL": json.dumps(rig["pool"]),
        "FEED_BENCH_TOKEN": rig["token"],
        "FEED_BENCH_CHANNELS": ",".join(channels),
        "FEED_BENCH_OUT": str(out),
    }
    command = ["taskset", "-c", cores, sys.executable, str(REPO / "bench" / "feed_side.py")]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if not line:
        raise RuntimeError("feed_side.py exited before it was ready")
    return process, json.loads(line)


def read_times(path: Path) -> dict[tuple[str, str], float]:
    """`callSid key time` lines: the first time each segment was seen there."""
    times: dict[tuple[str, str], float] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            call_sid, key, at = line.split()
            times.setdefault((call_sid, key), float(at))
    return times


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(load.percentile(values, 0.95), 1),
        "p99_ms": round(load.percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1),
    }


async def run_round(
    number: int, args: argparse.Namespace, sink_url: str, env: dict[str, str], rig: dict[str, Any]
) -> dict[str, Any]:
    base = (number + 1) * 10_000
    indexes = {
        "on": list(range(base, base + args.calls)),
        "off": list(range(base + 5_000, base + 5_000 + args.calls)),
    }
    sids = [f"CA{index:032d}" for index in indexes["on"]]
    out = Path(rig["dir"]) / f"round-{number}"
    out.mkdir()
    channels = [f"/calls/{sid}" for sid in sids] + ["/calls/live"]
    feed_side, feed = await start_feed_side(rig, channels, out, rig["cores"])
    stored_file = out / "stored"
    feed_env = {"FEED_HTTP_URL": feed["http_url"], "FEED_REGION": "us-east-1"}
    ports = {mode: load.free_port() for mode in ("on", "off")}
    processes = {
        mode: start_streamer(
            ports[mode],
            sink_url,
            args.core,
            {**env, "FEED_BENCH_STORED": str(stored_file) + f".{mode}", **(feed_env if mode == "on" else {})},
            args.calls,
        )
        for mode in ("on", "off")
    }
    loop = asyncio.get_running_loop()
    try:
        for mode in ("on", "off"):
            await load.wait_listening(ports[mode], processes[mode])
        signature = load.RequestValidator(load.TOKEN).compute_signature(load.STREAM_URL, {})
        urls = {mode: f"ws://127.0.0.1:{ports[mode]}/media" for mode in ports}
        for mode, offset in (("on", 9_000), ("off", 9_001)):  # one short call each: lazy parts warmed
            await load.one_call(base + offset, urls[mode], signature, loop.time(), loop.time() + 1.0, {})
        await asyncio.sleep(1.0)
        start = loop.time() + 0.5
        window_start = start + args.ramp + args.warmup
        window_end = window_start + args.seconds
        calls = [
            asyncio.create_task(
                load.one_call(
                    index, urls[mode], signature, start + args.ramp * i / args.calls, window_end + 0.5, {}
                )
            )
            for mode in ("on", "off")
            for i, index in enumerate(indexes[mode])
        ]
        await asyncio.sleep(window_start - loop.time())
        cpu0 = {mode: load.proc_cpu_seconds(p.pid) for mode, p in processes.items()}
        wall0, t0 = time.monotonic(), time.time()
        await asyncio.sleep(window_end - loop.time())
        cpu1 = {mode: load.proc_cpu_seconds(p.pid) for mode, p in processes.items()}
        wall1, t1 = time.monotonic(), time.time()
        await asyncio.gather(*calls)
        await asyncio.sleep(2.0)  # the last segments' writes and publishes
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
        feed_side.send_signal(signal.SIGTERM)
        await asyncio.wait_for(feed_side.wait(), 30)
    cpu = {mode: 100 * (cpu1[mode] - cpu0[mode]) / (wall1 - wall0) for mode in processes}
    stored = read_times(Path(str(stored_file) + ".on"))
    stored_off = read_times(Path(str(stored_file) + ".off"))
    arrived = read_times(out / "arrived.txt")
    received = [(sid, key, at) for (sid, key), at in read_times(out / "received.txt").items()]
    measured = [
        (sid, key, at) for sid, key, at in received if (sid, key) in stored and t0 <= stored[(sid, key)] < t1
    ]
    latencies = [(at - stored[(sid, key)]) * 1000 for sid, key, at in measured]
    to_feed = [(arrived[(s, k)] - stored[(s, k)]) * 1000 for s, k, _ in measured if (s, k) in arrived]
    fan_out = [(at - arrived[(s, k)]) * 1000 for s, k, at in measured if (s, k) in arrived]
    in_window = [key for key, at in stored.items() if key[0] in set(sids) and t0 <= at < t1]
    rig["latencies"].extend(latencies)
    return {
        "round": number,
        "calls_per_streamer": args.calls,
        "window_s": args.seconds,
        "cpu_pct_publishing": round(cpu["on"], 1),
        "cpu_pct_not_publishing": round(cpu["off"], 1),
        "cpu_ratio": round(cpu["on"] / cpu["off"], 3) if cpu["off"] else None,
        "segments_stored_in_window": len(in_window),
        "segments_stored_in_window_off": sum(1 for at in stored_off.values() if t0 <= at < t1),
        "segments_received": len(latencies),
        **summary(latencies),
        "stored_to_feed_p95_ms": summary(to_feed)["p95_ms"],
        "feed_to_subscriber_p95_ms": summary(fan_out)["p95_ms"],
    }


async def main(args: argparse.Namespace) -> None:
    import logging

    from callscribe_local.aws_local import LOCAL_REGION, LocalNames, fake_credentials_env
    from callscribe_local.cognito import add_user, create_local_pool, new_password, sign_in
    from shared.access import VIEWERS
    from shared.bootstrap import BootstrapSettings, bootstrap

    logging.disable(logging.WARNING)
    other_cores = {c for c in os.sched_getaffinity(0) if c != args.core} or {args.core}
    os.sched_setaffinity(0, other_cores)
    moto_port = load.free_port()
    moto_cmd = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)]
    moto = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        ["taskset", "-c", ",".join(map(str, sorted(other_cores))), *moto_cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    names = LocalNames("bench-calls", "bench-transcripts", "bench-idem", "bench-bus", "bench-recordings")
    endpoint = f"http://127.0.0.1:{moto_port}"
    env = {**os.environ, **fake_credentials_env(), **names.env(), "AWS_ENDPOINT_URL": endpoint}
    os.environ.update(env)
    WordSink.every = args.final_every
    results: list[dict[str, Any]] = []
    cores = ",".join(map(str, sorted(other_cores)))
    rig: dict[str, Any] = {"latencies": [], "dir": tempfile.mkdtemp(prefix="feed-bench-"), "cores": cores}
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"{endpoint}/")
                    break
                await asyncio.sleep(0.1)
        await asyncio.to_thread(bootstrap, BootstrapSettings.from_env(env))
        pool = create_local_pool(endpoint, LOCAL_REGION)
        password = new_password()
        add_user(pool, "bench@callscribe.local", [VIEWERS], password=password)
        rig["token"] = sign_in(pool, "bench@callscribe.local", password).id_token
        rig["pool"] = {"region": pool.region, "pool_id": pool.pool_id, "client_id": pool.client_id}
        rig["pool"]["endpoint"] = endpoint
        server = await asyncio.get_running_loop().create_server(lambda: WordSink(load.Sink()), "127.0.0.1", 0)
        async with server:
            sink_url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            for number in range(args.rounds):
                result = await run_round(number, args, sink_url, env, rig)
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    ratios = [r["cpu_ratio"] for r in results if r["cpu_ratio"]]
    print(json.dumps({
        "calls_per_streamer": args.calls,
        "final_every_s": args.final_every,
        "rounds": args.rounds,
        "cpu_ratio_median": round(statistics.median(ratios), 3) if ratios else None,
        "cpu_ratio_range": [min(ratios), max(ratios)] if ratios else None,
        "segments_measured": len(rig["latencies"]),
        **summary(rig["latencies"]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}",
    }), flush=True)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=50, help="concurrent calls per streamer")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window per round")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--ramp", type=float, default=3.0, help="calls start spread over this many seconds")
    parser.add_argument("--final-every", type=float, default=3.0, help="seconds of a track's audio per final")
    parser.add_argument("--core", type=int, default=0, help="the core both streamers are pinned to")
    return parser.parse_args()


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
