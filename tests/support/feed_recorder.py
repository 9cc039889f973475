"""Records what a live-feed subscriber receives, from a thread, for tests of a whole local stack.

`FeedRecorder(realtime_url, http_host, token, channel)`: `start()` returns once the subscription is
confirmed; every `data` event (parsed) is kept in `events` until `stop()`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from callscribe_local.appsync_realtime import SUBPROTOCOL, auth_protocol


class FeedRecorder:
    def __init__(self, realtime_url: str, http_host: str, token: str, channel: str) -> None:
        self._url = realtime_url
        self._header = {"host": http_host, "Authorization": token}
        self._channel = channel
        self.events: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="feed-recorder", daemon=True)

    def start(self, within: float = 15.0) -> FeedRecorder:
        self._thread.start()
        if not self._ready.wait(within) or self._failure is not None:
            raise RuntimeError(f"the feed subscription did not start: {self._failure}")
        return self

    @property
    def failure(self) -> BaseException | None:
        """Why the subscription ended early (None while it runs, or when `stop()` ended it)."""
        return self._failure

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], within: float = 30.0) -> bool:
        """True once `predicate(events)` holds (checked as events arrive), False after `within` s or
        as soon as the subscription has ended (see `failure`)."""
        deadline = time.monotonic() + within
        while not predicate(list(self.events)):
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._follow())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _follow(self) -> None:
        self._stop = asyncio.Event()
        protocols = [Subprotocol(SUBPROTOCOL), Subprotocol(auth_protocol(self._header))]
        async with connect(self._url, subprotocols=protocols) as ws:
            request = {"type": "subscribe", "id": "r", "channel": self._channel}
            await ws.send(json.dumps({**request, "authorization": self._header}))
            answer = json.loads(await ws.recv())
            if answer.get("type") != "subscribe_success":
                raise RuntimeError(f"subscribe refused: {answer}")
            self._ready.set()
            stopping = asyncio.create_task(self._stop.wait())
            while not self._stop.is_set():
                receiving = asyncio.create_task(ws.recv())  # ConnectionClosed ends it: `failure` says why
                done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    break
                message = json.loads(receiving.result())
                if message.get("type") == "data":
                    self.events.append(json.loads(message["event"]))
