"""Publishing to the live feed without ever holding up the caller: a bounded queue, sender threads,
SigV4-signed HTTP publishes to AppSync Events, batched, failures counted and dropped.

Must keep: `publish(channel, event)` only queues (`put_nowait`: no I/O, no waiting, safe from any
thread; a full queue drops and counts); a channel always goes to the same sender, so its events are
published in order; a failed request is counted and dropped, never retried (the table is the
record). Configuration is `FeedSettings` (`FEED_HTTP_URL` unset: no feed); docs/people.md
("The live feed") has the long form.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import ClassVar, Protocol

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from pydantic import Field

from shared import aws
from shared.feed import MAX_EVENTS_PER_PUBLISH
from shared.observability import logger
from shared.settings import EnvGroup

SERVICE = "appsync"
_STOP = object()
_MAX_DRAIN = 200  # events a sender takes off its queue at once (then groups by channel)
_LOG_EVERY = 100  # after the first few, one failure log line per this many


class FeedSettings(EnvGroup):
    """The live feed's publisher; off (None from `FeedPublisher.from_settings`) without a URL."""

    env_prefix: ClassVar[str] = "FEED_"

    http_url: str | None = None
    region: str | None = None
    queue_size: int = Field(default=10_000, ge=1)
    sender_threads: int = Field(default=4, ge=1, le=32)
    timeout_seconds: float = Field(default=2.0, gt=0)


class FeedCounters(Protocol):
    """Where the publisher counts, in the tier's own metrics (called from sender threads)."""

    def published(self, events: int) -> None: ...

    def failed(self, events: int) -> None: ...

    def dropped(self, events: int) -> None: ...


Credentials = Callable[[], ReadOnlyCredentials]


def session_credentials() -> ReadOnlyCredentials:
    """The process's AWS credentials now (the ECS task role refreshes them; read per request)."""
    credentials = aws.session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials for publishing to the feed")
    return credentials.get_frozen_credentials()


class FeedPublisher:
    """`start()`, then `publish()` from anywhere; `stop()` sends what is queued (within a deadline)."""

    def __init__(
        self,
        http_url: str,
        region: str,
        counters: FeedCounters,
        *,
        credentials: Credentials = session_credentials,
        queue_size: int = 10_000,
        senders: int = 4,
        timeout_seconds: float = 2.0,
    ) -> None:
        self._url = http_url.rstrip("/") + "/event"
        self._region = region
        self._counters = counters
        self._credentials = credentials
        self._inboxes: list[queue.Queue[object]] = [
            queue.Queue(maxsize=max(1, queue_size // senders)) for _ in range(senders)
        ]
        self._http = urllib3.PoolManager(
            num_pools=2,
            maxsize=senders,
            timeout=urllib3.Timeout(total=timeout_seconds),
            retries=urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0),
        )
        self._threads: list[threading.Thread] = []
        self._failures = 0
        self._failure_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: FeedSettings, counters: FeedCounters) -> FeedPublisher | None:
        if not settings.http_url:
            return None
        region = settings.region or aws.session().get_config_variable("region")
        if not region:
            raise ValueError("FEED_REGION (or AWS_REGION) must be set to publish to the feed")
        return cls(
            settings.http_url,
            str(region),
            counters,
            queue_size=settings.queue_size,
            senders=settings.sender_threads,
            timeout_seconds=settings.timeout_seconds,
        )

    def start(self) -> None:
        for number, inbox in enumerate(self._inboxes):
            thread = threading.Thread(
                target=self._send_loop, args=(inbox,), name=f"feed-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued, for up to `timeout` seconds in all, then end the senders."""
        deadline = time.monotonic() + timeout
        for inbox in self._inboxes:
            try:
                inbox.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                continue  # that sender is swamped: it is a daemon thread, left to the process's end
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._http.clear()

    def publish(self, channel: str, event: str) -> bool:
        """Queue one event (a JSON string) for `channel`; False (counted) when the queue is full."""
        inbox = self._inboxes[zlib.crc32(channel.encode()) % len(self._inboxes)]
        try:
            inbox.put_nowait((channel, event))
        except queue.Full:
            self._counters.dropped(1)
            return False
        return True

    def publish_all(self, channels: Iterable[str], event: str) -> None:
        for channel in channels:
            self.publish(channel, event)

    def wait_idle(self, timeout: float) -> bool:
        """True once everything queued so far has been sent (or dropped); for tests and benchmarks."""
        deadline = time.monotonic() + timeout
        while any(inbox.unfinished_tasks for inbox in self._inboxes):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    # ---- sender threads --------------------------------------------------------------------------

    def _send_loop(self, inbox: queue.Queue[object]) -> None:
        while True:
            taken = [inbox.get()]
            while len(taken) < _MAX_DRAIN:
                try:
                    taken.append(inbox.get_nowait())
                except queue.Empty:
                    break
            by_channel: dict[str, list[str]] = {}
            for item in taken:
                if isinstance(item, tuple):
                    channel, event = item
                    by_channel.setdefault(channel, []).append(event)
            for channel, events in by_channel.items():
                for first in range(0, len(events), MAX_EVENTS_PER_PUBLISH):
                    self._send(channel, events[first : first + MAX_EVENTS_PER_PUBLISH])
            for _ in taken:
                inbox.task_done()
            if any(item is _STOP for item in taken):
                return

    def _send(self, channel: str, events: list[str]) -> None:
        body = json.dumps({"channel": channel, "events": events}, separators=(",", ":")).encode("utf-8")
        try:
            request = AWSRequest(
                method="POST", url=self._url, data=body, headers={"Content-Type": "application/json"}
            )
            SigV4Auth(self._credentials(), SERVICE, self._region).add_auth(request)
            response = self._http.request("POST", self._url, body=body, headers=dict(request.headers.items()))
        except (urllib3.exceptions.HTTPError, OSError, RuntimeError) as exc:
            self._failed(len(events), f"{type(exc).__name__}: {exc}"[:300])
            return
        if response.status != 200:
            self._failed(len(events), f"HTTP {response.status}: {_error_type(response.data)}")
            return
        refused = _failed_count(response.data)
        if refused:
            self._failed(refused, "AppSync listed events as failed")
        self._counters.published(len(events) - refused)

    def _failed(self, events: int, reason: str) -> None:
        self._counters.failed(events)
        with self._failure_lock:
            self._failures += 1
            count = self._failures
        if count <= 5 or count % _LOG_EVERY == 0:
            logger.warning(
                "feed publish failed, events dropped", events=events, reason=reason, failures=count
            )


def _error_type(data: bytes) -> str:
    try:
        return str(json.loads(data)["errors"][0]["errorType"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "no error body"


def _failed_count(data: bytes) -> int:
    try:
        failed = json.loads(data).get("failed") or []
    except (ValueError, AttributeError):
        return 0
    return len(failed) if isinstance(failed, list) else 0
