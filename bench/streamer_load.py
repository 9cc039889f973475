"""Load test of the streamer: N concurrent both-track calls in real time against a sink Deepgram.

For each target (the streamer, then the minimal reference relay in bench/reference_relay.py), in the
same run and under the same load:
- the target runs as its own process pinned to one core (`taskset -c CORE`); this process (the call
  generator and the sink Deepgram, on uvloop) and a moto server run on the other core(s);
- N calls open (signed upgrades, staggered over the ramp), each sends `start` (with the per-call
  stream token our webhooks would have put in its TwiML) and then one inbound and one outbound 20 ms
  mu-law frame every 20 ms, exactly like Twilio;
- the sink accepts `/v1/listen` connections and notes when each 160-byte frame arrives; the first
  frame of every track carries a tag naming its call and track, so arrival i matches sent frame i;
- after a warm-up, for a fixed window: the target's CPU % (from /proc utime+stime), its RSS growth per
  call, and the bridge-added latency (frame sent by the generator → its bytes at the sink) p50/p99.

`python bench/streamer_load.py --calls 200 --seconds 20` prints a table and one JSON line per target.
Run time is bounded: ramp + warm-up + window + teardown per target (~40 s at the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.speedups import apply_mask

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared import stream_token  # noqa: E402 - after the repository is on the path

FRAME = 160
TOKEN = "bench-auth-token"  # noqa: S105 - a local test value
STREAM_URL = "wss://bench.callscribe.test/media"
SILENCE_B64 = base64.b64encode(b"\xff" * FRAME).decode()
CLK_TCK = os.sysconf("SC_CLK_TCK")
EMPTY_FINAL = (
    '{"type":"Results","channel_index":[0,1],"duration":1.0,"start":%d.0,"is_final":true,'
    '"speech_final":true,"channel":{"alternatives":[{"transcript":"","confidence":0.0,"words":[]}]},'
    '"metadata":{"request_id":"bench","model_info":{"name":"sink","version":"0","arch":"sink"},'
    '"model_uuid":"sink"},"from_finalize":false}'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tag_frame(call: int, track: str) -> bytes:
    return f"CALL{call:06d}{track[0]}".encode().ljust(FRAME, b"\xff")


# ---- sink Deepgram --------------------------------------------------------------------------------
# A raw asyncio protocol, not a websockets server: this process also generates every call, and a
# full WebSocket stack per received frame would make the harness, not the target, the bottleneck.

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def server_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    header = bytes([0x80 | opcode, n]) if n < 126 else bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    return header + payload


def client_frame(payload: bytes) -> bytes:
    """A masked text frame with the all-zero mask (valid per RFC 6455: the payload goes as is)."""
    n = len(payload)
    header = b"\x81" + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return header + b"\x00\x00\x00\x00" + payload


class SinkConnection(asyncio.Protocol):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buf = bytearray()
        self.open = False
        self.received = 0
        self.head = bytearray()
        self.times: array | None = None  # type: ignore[type-arg]
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        self.sink.connections += 1

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            key = b""
            for line in bytes(buf[:end]).split(b"\r\n"):
                if line.lower().startswith(b"sec-websocket-key:"):
                    key = line.split(b":", 1)[1].strip()
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())  # noqa: S324 - the protocol's
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            del buf[: end + 4]
            self.open = True
        while len(buf) >= 2:
            opcode, length, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, pos = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, pos = int.from_bytes(buf[2:10], "big"), 10
            mask = bytes(buf[pos : pos + 4]) if buf[1] & 0x80 else b""
            pos += len(mask)
            if len(buf) < pos + length:
                return
            if opcode in (0, 2):
                self.audio(buf, pos, length, mask, now)
            elif opcode in (1, 8, 9):
                payload = (
                    apply_mask(bytes(buf[pos : pos + length]), mask)
                    if mask
                    else bytes(buf[pos : pos + length])
                )
                self.control(opcode, payload)
            del buf[: pos + length]

    def audio(self, buf: bytearray, pos: int, length: int, mask: bytes, now: float) -> None:
        if self.times is None:
            self.head += apply_mask(bytes(buf[pos : pos + length]), mask) if mask else buf[pos : pos + length]
            if len(self.head) < 12:
                return
            tag = self.head[:12].decode(errors="replace")
            key = (int(tag[4:10]), "inbound" if tag[10] == "i" else "outbound")
            self.times = self.sink.arrivals.setdefault(key, array("d"))
        before = self.received
        self.received += length
        for _ in range(self.received // FRAME - before // FRAME):
            self.times.append(now)
        if self.received // 8000 > before // 8000 and self.transport is not None:
            # like real Deepgram during silence: an empty final about once a second of audio
            self.transport.write(server_frame(1, (EMPTY_FINAL % (self.received // 8000 - 1)).encode()))

    def control(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 9:
            self.transport.write(server_frame(10, payload))
        elif opcode == 8:
            self.transport.write(server_frame(8, (1000).to_bytes(2, "big")))
            self.transport.close()
        elif b"CloseStream" in payload:
            self.transport.write(server_frame(8, (1000).to_bytes(2, "big")))


@dataclass
class Sink:
    arrivals: dict[tuple[int, str], array] = field(default_factory=dict)  # type: ignore[type-arg]
    connections: int = 0


# ---- the target process ---------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def start_target(
    kind: str, port: int, sink_url: str, core: int, env: dict[str, str], calls: int
) -> subprocess.Popen[bytes]:
    if kind == "streamer":
        cmd = [sys.executable, "-m", "streamer"]
        if os.environ.get("BENCH_PROFILE"):  # e.g. BENCH_PROFILE=/tmp/streamer.prof: cProfile the target
            cmd = [sys.executable, "-m", "cProfile", "-o", os.environ["BENCH_PROFILE"], "-m", "streamer"]
        env = {
            **env,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DEEPGRAM_URL": sink_url,
            "DEEPGRAM_API_KEY": "bench-key",
            "TWILIO_AUTH_TOKEN": TOKEN,
            "STREAM_URL": STREAM_URL,
            "MAX_CALLS": str(calls + 10),
            # every call comes from this one process's address: the per-address bound would refuse it
            "MAX_PENDING_STREAMS_PER_ADDRESS": str(calls + 10),
            "DRAIN_SECONDS": "10",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "METRICS_INTERVAL_SECONDS": "60",
        }
    else:
        cmd = [sys.executable, str(REPO / "bench" / "reference_relay.py"), str(port), sink_url + "/v1/listen"]
    return subprocess.Popen(
        ["taskset", "-c", str(core), *cmd],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"target exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
            )
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return
    raise TimeoutError("target did not listen")


# ---- call generator -------------------------------------------------------------------------------


async def one_call(
    index: int,
    url: str,
    signature: str,
    t0: float,
    stop_at: float,
    sent: dict[tuple[int, str], array],  # type: ignore[type-arg]
) -> None:
    headers = {"X-Twilio-Signature": signature}
    ws = await connect(url, additional_headers=headers, compression=None, proxy=None, open_timeout=30)
    call_sid = f"CA{index:032d}"
    stream_sid = f"MZ{index:032d}"
    parameters = {"route": "bench"}
    parameters["token"] = stream_token.sign(TOKEN, call_sid, parameters)  # as the webhooks sign it
    await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
        "accountSid": "AC" + "0" * 32, "streamSid": stream_sid, "callSid": call_sid,
        "tracks": ["inbound", "outbound"], "customParameters": parameters,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))  # fmt: skip
    times = {track: sent.setdefault((index, track), array("d")) for track in ("inbound", "outbound")}
    tags = {track: base64.b64encode(tag_frame(index, track)).decode() for track in times}
    seq = 1
    frame = 0
    loop = asyncio.get_running_loop()
    transport = ws.transport
    while True:
        due = t0 + frame * 0.02
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if loop.time() >= stop_at:
            break
        out = []
        for track in ("inbound", "outbound"):
            seq += 1
            payload = tags[track] if frame == 0 else SILENCE_B64
            message = (
                f'{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"{track}",'
                f'"chunk":"{frame + 1}","timestamp":"{frame * 20}","payload":"{payload}"}},'
                f'"streamSid":"{stream_sid}"}}'
            )
            out.append(client_frame(message.encode()))
        now = time.monotonic()
        times["inbound"].append(now)
        times["outbound"].append(now)
        transport.write(b"".join(out))  # pre-masked frames straight to the socket: a cheap generator
        frame += 1
    await ws.send(json.dumps({"event": "stop", "sequenceNumber": str(seq + 1), "streamSid": stream_sid,
                              "stop": {"accountSid": "AC" + "0" * 32, "callSid": call_sid}}))  # fmt: skip
    await ws.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_target(
    kind: str, args: argparse.Namespace, sink_url: str, sink: Sink, env: dict[str, str]
) -> dict[str, Any]:
    sink.arrivals.clear()
    port = free_port()
    process = start_target(kind, port, sink_url, args.core, env, args.calls)
    try:
        await wait_listening(port, process)
        signature = RequestValidator(TOKEN).compute_signature(STREAM_URL, {})
        url = f"ws://127.0.0.1:{port}/media"
        loop = asyncio.get_running_loop()
        # one short call first, so one-off lazy costs (AWS clients, thread pools) are not counted per call
        await one_call(10**6, url, signature, loop.time(), loop.time() + 1.0, {})
        await asyncio.sleep(1.0)
        idle_rss = proc_rss_bytes(process.pid)
        start = loop.time() + 0.5
        ramp = args.ramp
        window_start = start + ramp + args.warmup
        window_end = window_start + args.seconds
        sent: dict[tuple[int, str], array] = {}  # type: ignore[type-arg]
        calls = [
            asyncio.create_task(
                one_call(i, url, signature, start + ramp * i / args.calls, window_end + 0.5, sent)
            )
            for i in range(args.calls)
        ]
        await asyncio.sleep(window_start - loop.time())
        cpu0, wall0 = proc_cpu_seconds(process.pid), time.monotonic()
        await asyncio.sleep(window_end - loop.time())
        cpu1, wall1 = proc_cpu_seconds(process.pid), time.monotonic()
        loaded_rss = proc_rss_bytes(process.pid)
        await asyncio.gather(*calls)
        await asyncio.sleep(1.0)  # let the last frames arrive
        mono_start, mono_end = wall0, wall1
        latencies: list[float] = []
        lost = 0
        for key, times in sent.items():
            arrived = sink.arrivals.get(key, array("d"))
            for i, t_sent in enumerate(times):
                if not mono_start <= t_sent < mono_end:
                    continue
                if i < len(arrived):
                    latencies.append((arrived[i] - t_sent) * 1000)
                else:
                    lost += 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return {
        "target": kind,
        "calls": args.calls,
        "window_s": args.seconds,
        "cpu_pct": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
        "rss_idle_mb": round(idle_rss / 2**20, 1),
        "rss_loaded_mb": round(loaded_rss / 2**20, 1),
        "rss_per_call_kb": round((loaded_rss - idle_rss) / args.calls / 1024, 1),
        "frames_measured": len(latencies),
        "frames_missing": lost,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
    }


async def main(args: argparse.Namespace) -> None:
    from callscribe_local.aws_local import LocalNames, fake_credentials_env
    from shared.bootstrap import BootstrapSettings, bootstrap

    other_cores = {c for c in os.sched_getaffinity(0) if c != args.core} or {args.core}
    os.sched_setaffinity(0, other_cores)
    moto_port = free_port()
    moto_cmd = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)]
    cores = ",".join(map(str, sorted(other_cores)))
    moto = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        ["taskset", "-c", cores, *moto_cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    names = LocalNames(calls_table="bench-calls", transcripts_table="bench-transcripts",
                       idempotency_table="bench-idem", event_bus_name="bench-bus")  # fmt: skip
    env = {
        **os.environ,
        **fake_credentials_env(),
        **names.env(),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    }
    os.environ.update(env)
    sink = Sink()
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"http://127.0.0.1:{moto_port}/")
                    break
                await asyncio.sleep(0.1)
        await asyncio.to_thread(bootstrap, BootstrapSettings.from_env(env))
        server = await asyncio.get_running_loop().create_server(lambda: SinkConnection(sink), "127.0.0.1", 0)
        async with server:
            sink_url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            results = []
            for kind in args.targets:
                result = await run_target(kind, args, sink_url, sink, env)
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    by_kind = {r["target"]: r for r in results}
    if "streamer" in by_kind and "reference" in by_kind:
        s, r = by_kind["streamer"], by_kind["reference"]
        print(json.dumps({
            "cpu_ratio": round(s["cpu_pct"] / r["cpu_pct"], 2) if r["cpu_pct"] else None,
            "p99_ratio": round(s["p99_ms"] / r["p99_ms"], 2) if r["p99_ms"] else None,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}, {platform.platform()}",
        }), flush=True)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--ramp", type=float, default=4.0, help="calls start spread over this many seconds")
    parser.add_argument("--core", type=int, default=0, help="the core the target is pinned to")
    parser.add_argument(
        "--targets", nargs="+", default=["streamer", "reference"], choices=["streamer", "reference"]
    )
    return parser.parse_args()


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
