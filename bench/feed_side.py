"""The feed's side of bench/feed_latency.py, in a process of its own: the AppSync Events stand-in and
the subscribers, so their clocks are read by a process the call generator does not keep busy.

Environment: FEED_BENCH_POOL (JSON: region, pool_id, client_id, endpoint), FEED_BENCH_TOKEN (a
viewer's ID token), FEED_BENCH_CHANNELS (comma-separated), FEED_BENCH_OUT (a folder). Prints one
JSON line with the stand-in's URLs once every subscription is confirmed, then runs until SIGTERM and
writes `arrived.txt` (publish request reached the stand-in) and `received.txt` (a subscriber read the
`data` message): lines of `callSid segmentId wall-time`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.appsync_realtime import SUBPROTOCOL, auth_protocol
from callscribe_local.cognito import TokenVerifier, UserPool


def segment_keys(body: bytes) -> list[tuple[str, str]]:
    keys = []
    with contextlib.suppress(ValueError, KeyError, TypeError):
        for event in json.loads(body)["events"]:
            message = json.loads(event)
            if message.get("type") == "segment":
                keys.append((message["callSid"], message["segmentId"]))
    return keys


async def main() -> None:
    pool = UserPool(**json.loads(os.environ["FEED_BENCH_POOL"]))
    token = os.environ["FEED_BENCH_TOKEN"]
    channels = os.environ["FEED_BENCH_CHANNELS"].split(",")
    out = Path(os.environ["FEED_BENCH_OUT"])
    arrived: list[str] = []
    received: list[str] = []
    lock = threading.Lock()
    credentials = {"testing": Credentials("testing", "testing", "testing")}
    standin = AppSyncEventsStandIn(
        verifier=TokenVerifier(pool, token_use=None), credentials=credentials, region=pool.region
    )
    original = standin.publish

    def publish(method: str, path: str, headers: Any, body: bytes) -> Any:
        at = time.time()
        lines = [f"{sid} {key} {at:.6f}" for sid, key in segment_keys(body)]
        with lock:
            arrived.extend(lines)
        return original(method, path, headers, body)

    standin.publish = publish  # type: ignore[method-assign]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with standin as feed:
        header = {"host": feed.http_host, "Authorization": token}
        protocols = [Subprotocol(SUBPROTOCOL), Subprotocol(auth_protocol(header))]

        async def follow(channel: str, ready: asyncio.Event) -> None:
            async with connect(feed.realtime_url, subprotocols=protocols, compression=None, proxy=None) as ws:
                request = {"type": "subscribe", "id": "s", "channel": channel, "authorization": header}
                await ws.send(json.dumps(request))
                if json.loads(await ws.recv()).get("type") != "subscribe_success":
                    raise RuntimeError(f"subscribe to {channel} refused")
                ready.set()
                async for frame in ws:
                    at = time.time()
                    message = json.loads(frame)
                    if message.get("type") == "data":
                        event = json.loads(message["event"])
                        if event.get("type") == "segment":
                            received.append(f"{event['callSid']} {event['segmentId']} {at:.6f}")

        readies = [asyncio.Event() for _ in channels]
        tasks = [
            asyncio.create_task(follow(channel, ready))
            for channel, ready in zip(channels, readies, strict=True)
        ]
        await asyncio.gather(*(ready.wait() for ready in readies))
        print(json.dumps({"http_url": feed.http_url, "http_host": feed.http_host}), flush=True)
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    with lock:
        (out / "arrived.txt").write_text("\n".join(arrived) + "\n")
    (out / "received.txt").write_text("\n".join(received) + "\n")


if __name__ == "__main__":
    uvloop.run(main())
