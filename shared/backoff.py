"""The product's one retry policy, built on tenacity: bounded attempts, full-jitter backoff.

Every retry in the product (the streamer's store writers, its Deepgram reconnects, the recordings
Lambda's HTTP requests) is a tenacity `Retrying`/`AsyncRetrying` with these strategies, so what is
retried, how often and how long it waits reads the same everywhere. A change must keep: only the
exceptions named by the caller are retried (anything else, a bug or a refusal, leaves at once), the
last error is raised unchanged when the attempts run out, and the wait before retry n (1-based) is
uniform in [0, min(cap, base * 2**n)] ("full jitter": calls that failed together spread out).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)


def full_jitter(base_seconds: float, cap_seconds: float | None = None) -> wait_random_exponential:
    """Wait before retry n (after n failed attempts): uniform(0, min(cap, base * 2**n))."""
    # tenacity's window after attempt n is multiplier * 2**(n - 1)
    if cap_seconds is None:
        return wait_random_exponential(multiplier=2 * base_seconds)
    return wait_random_exponential(multiplier=2 * base_seconds, max=cap_seconds)


def retrying(
    *,
    attempts: int,
    base_seconds: float,
    retry_on: tuple[type[Exception], ...],
    on_retry: Callable[[int, Exception], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """Up to `attempts` tries while one of `retry_on` is raised; `on_retry(n, error)` before retry n."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            error = state.outcome.exception()
            if isinstance(error, Exception):
                on_retry(state.attempt_number, error)

    return Retrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(attempts),
        wait=full_jitter(base_seconds),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
