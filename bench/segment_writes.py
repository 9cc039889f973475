"""What storing live segments costs the streamer, per design: requests, client CPU, throughput.

The streamer writes each final segment as the stream that owns its call. Three ways to do that are
measured against the same moto server (its own process, on the other core(s) than this one):

- `batch`: BatchWriteItem, 25 segments a request (what the streamer did before claims; it cannot
  carry a condition, so any stream could overwrite any segment);
- `put`: one conditional PutItem per segment, `attribute_not_exists(segment_key) OR stream_owner =
  :owner` (`DynamoSegments.write_owned_segment`, what the streamer does now);
- `transact`: TransactWriteItems, a ConditionCheck that the call's `stream_owner` is this stream plus
  up to 24 unconditional Puts (boto3 directly: the product has no such path).

Each run writes `--segments` segments (~120 characters of text, as a spoken sentence) spread over
calls of 40 segments, from `--threads` writer threads, and reports: requests per segment, client
CPU per segment (this process's CPU: botocore and pynamodb building, signing and parsing requests;
moto's own CPU is in its process and not counted) and segments a second. moto's per-request time is
not DynamoDB's (~5 ms in-region for a small write), so throughput here compares the designs on this
machine; the requests and the client CPU carry over. WCUs are DynamoDB's published rates, not
measured: 1 per KB written for PutItem and BatchWriteItem, 2 per KB for each item of a transaction
(ConditionCheck included).

Each run gets a fresh moto server (and is warmed up first), so no run pays for another's items:
moto copies every table for each transaction (its rollback), so `transact` runs on fewer segments
(`--transact-segments`) and its segments a second say nothing about DynamoDB.

`python bench/segment_writes.py --segments 2000` prints a table and one JSON line per run. moto runs
with its address space capped at 3 GB (`prlimit`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEXT = "i would like to move the delivery to friday morning if that works for you and the driver, thanks"
SEGMENTS_PER_CALL = 40
OWNER = "0f" * 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def segments_of(call_sid: str) -> list[Any]:
    from shared.dal.keys import segment_key
    from shared.dal.records import Segment

    return [
        Segment(
            call_sid=call_sid,
            segment_key=segment_key(i * 2.5, "inbound"),
            track="inbound",
            speaker="caller",
            text=f"{TEXT} {i}",
            start=i * 2.5,
            end=i * 2.5 + 2.0,
            confidence=0.93,
            language="en",
            source="deepgram:nova-3",
        )
        for i in range(SEGMENTS_PER_CALL)
    ]


class Counting:
    """Counts the DynamoDB requests botocore sends from this process (every client, every thread)."""

    def __init__(self) -> None:
        import botocore.endpoint

        self.requests = 0
        self._lock = threading.Lock()
        original = botocore.endpoint.Endpoint._send

        def send(endpoint: Any, request: Any) -> Any:
            with self._lock:
                self.requests += 1
            return original(endpoint, request)

        botocore.endpoint.Endpoint._send = send  # type: ignore[method-assign]


def run(
    design: str, write: Callable[[list[Any]], None], calls: list[str], threads: int, counter: Counting
) -> dict[str, Any]:
    work = [segments_of(call_sid) for call_sid in calls]
    chunks = [work[i::threads] for i in range(threads)]
    total = sum(len(w) for w in work)

    def worker(mine: list[list[Any]]) -> None:
        for call_segments in mine:
            write(call_segments)

    before_requests, cpu0, wall0 = counter.requests, time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    requests = counter.requests - before_requests
    return {
        "design": design,
        "threads": threads,
        "segments": total,
        "requests": requests,
        "requests_per_segment": round(requests / total, 3),
        "client_cpu_ms_per_segment": round(cpu * 1000 / total, 3),
        "segments_per_second": round(total / wall),
        "wcu_per_segment": {"batch": 1, "put": 1, "transact": round(2 + 2 / 24, 2)}[design],
    }


@contextlib.contextmanager
def moto_server(cores: list[int]) -> Iterator[tuple[str, str]]:
    """A fresh moto server (its own process on `cores`, its address space capped: a runaway stand-in
    must not take the machine) with the two tables, this process pointed at it: their names (new
    names each time: the data layer binds a table's endpoint when it first meets its name)."""
    from shared.dal.tables import calls_model, segments_model

    port = free_port()
    moto = subprocess.Popen(
        ["prlimit", "--as=3000000000", "taskset", "-c", ",".join(map(str, cores)),
         str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        suffix = uuid.uuid4().hex[:8]
        tables = (f"bench-calls-{suffix}", f"bench-transcripts-{suffix}")
        for model in (calls_model(tables[0]), segments_model(tables[1])):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield tables
    finally:
        moto.kill()
        moto.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--transact-segments", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=2, help="each design this many times, interleaved")
    args = parser.parse_args()

    from callscribe_local.aws_local import fake_credentials_env

    cores = sorted(os.sched_getaffinity(0))
    mine, others = cores[:1], cores[1:] or cores[:1]
    os.sched_setaffinity(0, set(mine))
    os.environ.update(fake_credentials_env())
    counter = Counting()
    designs = [("batch", 2, args.segments), ("put", 2, args.segments), ("put", 4, args.segments),
               ("transact", 2, args.transact_segments)]  # fmt: skip
    results: list[dict[str, Any]] = []
    for round_number in range(1, args.rounds + 1):
        for name, threads, segments in designs:
            print(f"round {round_number}: {name} x{threads}", file=sys.stderr, flush=True)
            with moto_server(others) as tables:
                write = writer(name, *tables)
                run(name, write, claimed(tables[0], 2), threads, counter)  # warm-up: clients, threads
                calls = claimed(tables[0], max(1, segments // SEGMENTS_PER_CALL))
                results.append({**run(name, write, calls, threads, counter), "round": round_number})
    print(f"{'design':<10}{'threads':>8}{'req/seg':>9}{'CPU ms/seg':>12}{'seg/s':>8}{'WCU/seg':>9}")
    for r in results:
        print(
            f"{r['design']:<10}{r['threads']:>8}{r['requests_per_segment']:>9}"
            f"{r['client_cpu_ms_per_segment']:>12}{r['segments_per_second']:>8}{r['wcu_per_segment']:>9}"
        )
    for r in results:
        print(json.dumps({**r, "python": platform.python_version(), "machine": platform.machine()}))


def claimed(calls_table: str, count: int) -> list[str]:
    """`count` new calls, each claimed by this bench's stream (the transaction's condition reads it)."""
    from shared.dal.calls.stream import DynamoStreamCalls
    from shared.dal.records import StreamClaim

    stream = DynamoStreamCalls(calls_table)
    calls = ["CA" + uuid.uuid4().hex for _ in range(count)]
    for call_sid in calls:
        stream.claim_stream(StreamClaim(call_sid, OWNER, "MZ" + call_sid[2:], "2026-12-07T10:00:00.000Z"))
    return calls


def writer(design: str, calls_table: str, transcripts_table: str) -> Callable[[list[Any]], None]:
    """How one call's segments are written in `design`."""
    import boto3

    from shared.dal.segments import DynamoSegments

    store = DynamoSegments(transcripts_table)

    def batch(segments: list[Any]) -> None:
        for i in range(0, len(segments), 25):
            store.write_segments(segments[i : i + 25])

    def put(segments: list[Any]) -> None:
        for segment in segments:
            if not store.write_owned_segment(segment, OWNER):
                raise RuntimeError("refused")

    client = boto3.client("dynamodb")

    def transact(segments: list[Any]) -> None:
        for i in range(0, len(segments), 24):
            items: list[dict[str, Any]] = [
                {
                    "ConditionCheck": {
                        "TableName": calls_table,
                        "Key": {"call_sid": {"S": segments[0].call_sid}},
                        "ConditionExpression": "stream_owner = :owner",
                        "ExpressionAttributeValues": {":owner": {"S": OWNER}},
                    }
                }
            ]
            for s in segments[i : i + 24]:
                item = {
                    "call_sid": {"S": s.call_sid}, "segment_key": {"S": s.segment_key},
                    "track": {"S": s.track}, "speaker": {"S": s.speaker}, "text": {"S": s.text},
                    "start": {"N": str(s.start)}, "end": {"N": str(s.end)},
                    "confidence": {"N": str(s.confidence)}, "language": {"S": s.language},
                    "source": {"S": s.source}, "created_at": {"S": "2026-12-07T10:00:00.000Z"},
                }  # fmt: skip
                items.append({"Put": {"TableName": transcripts_table, "Item": item}})
            client.transact_write_items(TransactItems=items)

    return {"batch": batch, "put": put, "transact": transact}[design]


if __name__ == "__main__":
    main()
