"""The minimal Twilio → Deepgram relay the streamer is measured against (bench/streamer_load.py).

Parse the JSON, base64-decode the payload, forward the bytes on one upstream connection per track:
nothing else (no signature check, no buffering, no storage, no reconnects). Run like the streamer:
`python bench/reference_relay.py PORT UPSTREAM_URL`, on uvloop, permessage-deflate off.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


async def relay(ws: ServerConnection, upstream_url: str) -> None:
    upstreams: dict[str, ClientConnection] = {}
    try:
        async for frame in ws:
            message = json.loads(frame)
            if message.get("event") != "media":
                if message.get("event") == "stop":
                    break
                continue
            media = message["media"]
            track = media["track"]
            upstream = upstreams.get(track)
            if upstream is None:
                upstream = await connect(upstream_url, compression=None, proxy=None)
                upstreams[track] = upstream
            await upstream.send(base64.b64decode(media["payload"]))
    except ConnectionClosed:
        pass
    finally:
        for upstream in upstreams.values():
            await upstream.close()


async def main(port: int, upstream_url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with serve(lambda ws: relay(ws, upstream_url), "127.0.0.1", port, compression=None):
        await stop.wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2]))
