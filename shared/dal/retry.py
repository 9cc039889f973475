"""Retries with jittered exponential backoff for writers that run in their own threads.

The streamer has no sender to retry for it (Twilio's media stream is not replayed), so its writers
retry themselves: the call record writer and the segment writer share this one loop. Botocore's own
retries (adaptive mode, shared/aws.py) cover throttling inside one attempt; this covers what is left
(a connection reset, a table briefly unavailable). Full jitter spreads the retries of many calls
that failed together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

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
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """`fn()`, tried up to `attempts` times while it raises one of `retry_on`; the last error is raised.

    Before retry n (1-based) `on_retry(n, error)` runs, then a sleep of up to `backoff_base * 2**n`.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except retry_on as exc:
            if attempt >= attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            sleep(random.uniform(0, backoff_base * 2**attempt))  # noqa: S311 - jitter, not crypto
    raise ValueError(f"attempts must be at least 1, not {attempts}")
