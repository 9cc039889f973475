"""Retries of a table write for writers that run in their own threads (the streamer's).

The streamer has no sender to retry for it (Twilio's media stream is not replayed), so its writers
retry themselves with the product's retry policy (`shared.backoff`, tenacity). Botocore's own
retries (adaptive mode, shared/aws.py) cover throttling inside one attempt; this covers what is left
(a connection reset, a table briefly unavailable). `RETRYABLE` is what a table failure can raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from shared.backoff import retrying
from shared.errors import StoreError

T = TypeVar("T")

RETRYABLE: tuple[type[Exception], ...] = (StoreError, BotoCoreError, ClientError, OSError)


def with_retries(
    fn: Callable[[], T],
    *,
    attempts: int,
    backoff_base: float,
    retry_on: tuple[type[Exception], ...] = RETRYABLE,
    on_retry: Callable[[int, Exception], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`fn()`, tried up to `attempts` times while it raises one of `retry_on`; the last error is raised.

    Before retry n (1-based) `on_retry(n, error)` runs, then a sleep of up to `backoff_base * 2**n`.
    """
    policy = retrying(
        attempts=attempts, base_seconds=backoff_base, retry_on=retry_on, on_retry=on_retry, sleep=sleep
    )
    return policy(fn)
