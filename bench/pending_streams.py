"""What a connection waiting for `start` costs the streamer: memory, file descriptors, CPU.

Against a real `python -m streamer` pinned to one core (`taskset -c CORE`; this process, the clients,
runs on the other cores), two phases, each on a fresh streamer process:

- hold: START_TIMEOUT_SECONDS=3600. After a warm-up (a few upgrades opened and closed, so one-off
  lazy costs are not counted per connection), N signed upgrades are opened (each with the upgrade
  signature Twilio would send and its own X-Forwarded-For address, TRUSTED_PROXY_HOPS=1) and never
  send anything. Reported per connection: RSS growth, file descriptors (/proc/PID/fd), and the CPU
  of the upgrade (handshake, signature check, session set-up); then the streamer's CPU while the N
  wait for `--hold` seconds (the server pings every 20 s; the clients answer, as websockets does).
- churn: START_TIMEOUT_SECONDS=5 (the default). N clients each open a signed upgrade, wait for the
  streamer to close it at the timeout, and open the next at once: what whoever holds a leaked
  upgrade signature can keep up. Reported: the streamer's CPU % over `--churn` seconds and the CPU
  per connection lifetime (upgrade, timeout, close).

`python bench/pending_streams.py --connections 2000` prints one JSON line per phase. Needs a file
descriptor limit above N + a few hundred in this shell (`ulimit -n`); the streamer inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-auth-token"  # noqa: S105 - a local test value
STREAM_URL = "wss://bench.callscribe.test/media"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_CONNECTIONS = 20
OPEN_CONCURRENCY = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def address(index: int) -> str:
    """A distinct client address per connection (10.0.0.0/8), as the load balancer would add it."""
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def start_streamer(
    port: int, core: int, connections: int, start_timeout: float, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CALLS_TABLE": "bench-calls",
        "TRANSCRIPTS_TABLE": "bench-transcripts",
        "IDEMPOTENCY_TABLE": "bench-idem",
        "EVENT_BUS_NAME": "bench-bus",
        # nothing here reaches AWS (no connection is ever a call); the endpoint only keeps it local
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DEEPGRAM_URL": "ws://127.0.0.1:9",
        "DEEPGRAM_API_KEY": "bench-key",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "STREAM_URL": STREAM_URL,
        "START_TIMEOUT_SECONDS": str(start_timeout),
        "MAX_PENDING_STREAMS": str(connections + WARMUP_CONNECTIONS + 10),
        "MAX_PENDING_STREAMS_PER_ADDRESS": "4",
        "TRUSTED_PROXY_HOPS": "1",
        "DRAIN_SECONDS": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",  # each timed-out connection still logs its warning, as deployed
        "METRICS_INTERVAL_SECONDS": "3600",
    }
    with log.open("wb") as stderr:
        return subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, "-m", "streamer"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamer exited: {(await asyncio.to_thread(log.read_text))[-2000:]}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return
    raise TimeoutError("streamer did not listen")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def open_upgrade(url: str, signature: str, index: int) -> ClientConnection:
    headers = {"X-Twilio-Signature": signature, "X-Forwarded-For": address(index)}
    # no client pings (an idle holder need not send any); the server's pings are answered
    return await connect(url, additional_headers=headers, compression=None, proxy=None,
                         open_timeout=60, ping_interval=None)  # fmt: skip


async def open_many(url: str, signature: str, indices: range) -> list[ClientConnection]:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(index: int) -> ClientConnection:
        async with gate:
            return await open_upgrade(url, signature, index)

    return list(await asyncio.gather(*(one(i) for i in indices)))


async def hold(args: argparse.Namespace, signature: str, log: Path) -> dict[str, Any]:
    port = free_port()
    process = start_streamer(port, args.core, args.connections, 3600, log)
    try:
        await wait_listening(port, process, log)
        url = f"ws://127.0.0.1:{port}/media"
        for ws in await open_many(url, signature, range(10**6, 10**6 + WARMUP_CONNECTIONS)):
            await ws.close()
        await asyncio.sleep(1.0)
        pid = process.pid
        rss0, fds0, cpu0 = proc_rss_bytes(pid), proc_fds(pid), proc_cpu_seconds(pid)
        t0 = time.monotonic()
        held = await open_many(url, signature, range(args.connections))
        opened_s = time.monotonic() - t0
        await asyncio.sleep(1.0)  # every handler has run
        cpu1, rss1, fds1 = proc_cpu_seconds(pid), proc_rss_bytes(pid), proc_fds(pid)
        await asyncio.sleep(args.hold)
        cpu2 = proc_cpu_seconds(pid)
        still_open = sum(1 for ws in held if ws.close_code is None)
        for ws in held:
            ws.transport.abort()
    finally:
        stop(process)
    n = args.connections
    return {
        "phase": "hold",
        "connections": n,
        "still_open_after_hold": still_open,
        "open_seconds": round(opened_s, 2),
        "rss_idle_mb": round(rss0 / 2**20, 1),
        "rss_held_mb": round(rss1 / 2**20, 1),
        "rss_per_connection_kb": round((rss1 - rss0) / n / 1024, 1),
        "fds_idle": fds0,
        "fds_per_connection": round((fds1 - fds0) / n, 3),
        "cpu_ms_per_upgrade": round(1000 * (cpu1 - cpu0) / n, 3),
        "hold_seconds": args.hold,
        "cpu_pct_holding": round(100 * (cpu2 - cpu1) / args.hold, 2),
        "cpu_pct_per_1000_held": round(100 * (cpu2 - cpu1) / args.hold * 1000 / n, 3),
    }


async def churn(args: argparse.Namespace, signature: str, log: Path) -> dict[str, Any]:
    port = free_port()
    start_timeout = 5.0
    process = start_streamer(port, args.core, args.connections, start_timeout, log)
    lifetimes = 0
    refused = 0
    counting = False

    async def holder(index: int, first_at: float) -> None:
        nonlocal lifetimes, refused
        await asyncio.sleep(max(0.0, first_at - asyncio.get_running_loop().time()))
        while True:
            try:
                ws = await open_upgrade(url, signature, index)
            except (InvalidHandshake, OSError, TimeoutError):
                refused += counting
                await asyncio.sleep(0.1)
                continue
            with contextlib.suppress(ConnectionClosed):
                await ws.recv()  # the server closes it at START_TIMEOUT_SECONDS
            lifetimes += counting

    try:
        await wait_listening(port, process, log)
        url = f"ws://127.0.0.1:{port}/media"
        loop = asyncio.get_running_loop()
        ramp = start_timeout  # spread the first opens over one timeout: a steady refresh
        begin = loop.time()
        tasks = [
            asyncio.create_task(holder(i, begin + ramp * i / args.connections))
            for i in range(args.connections)
        ]
        await asyncio.sleep(ramp + start_timeout)  # warm: every holder on its second connection
        pid = process.pid
        counting = True
        cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(args.churn)
        cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
        counting = False
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        stop(process)
    cpu = cpu1 - cpu0
    return {
        "phase": "churn",
        "connections": args.connections,
        "start_timeout_s": start_timeout,
        "window_s": round(t1 - t0, 1),
        "lifetimes_ended": lifetimes,
        "refused": refused,
        "cpu_pct": round(100 * cpu / (t1 - t0), 1),
        "cpu_ms_per_lifetime": round(1000 * cpu / lifetimes, 3) if lifetimes else None,
    }


async def main(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.connections + 500
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    other_cores = {c for c in os.sched_getaffinity(0) if c != args.core} or {args.core}
    os.sched_setaffinity(0, other_cores)
    signature = RequestValidator(TOKEN).compute_signature(STREAM_URL, {})
    with tempfile.TemporaryDirectory(prefix="pending-bench-") as tmp:
        log = Path(tmp) / "streamer.log"
        for phase in args.phases:
            result = await (hold if phase == "hold" else churn)(args, signature, log)
            print(json.dumps(result), flush=True)
    print(json.dumps({
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}, {platform.platform()}",
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
    }), flush=True)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument(
        "--hold", type=float, default=30.0, help="seconds the N connections wait (hold phase)"
    )
    parser.add_argument("--churn", type=float, default=20.0, help="measurement window of the churn phase")
    parser.add_argument("--core", type=int, default=0, help="the core the streamer is pinned to")
    parser.add_argument("--phases", nargs="+", default=["hold", "churn"], choices=["hold", "churn"])
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
