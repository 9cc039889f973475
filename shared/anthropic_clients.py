"""Anthropic SDK clients, built one way for the summaries Lambda (sync) and the streamer's agent (async).

`import anthropic` costs ~1.5 s, about a whole Lambda cold start, so the SDK is imported when the first
client is built, not when this module is: the webhooks Lambda bundles shared/ without ever talking to
Anthropic, and the summaries Lambda's no-speech path never pays for it. A blank `base_url` means the
SDK's own default, which honours `ANTHROPIC_BASE_URL` (tests and the demo point it at the stand-in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic


def build_client(
    api_key: str, timeout_seconds: float, max_retries: int, base_url: str | None = None
) -> Anthropic:
    """One client per process; retries of 408/409/429/5xx/529 and connection errors are the SDK's."""
    from anthropic import Anthropic

    return Anthropic(
        api_key=api_key, base_url=base_url or None, timeout=timeout_seconds, max_retries=max_retries
    )


def build_async_client(
    api_key: str, timeout_seconds: float, max_retries: int, base_url: str | None = None
) -> AsyncAnthropic:
    """The same, for code on an event loop."""
    from anthropic import AsyncAnthropic

    return AsyncAnthropic(
        api_key=api_key, base_url=base_url or None, timeout=timeout_seconds, max_retries=max_retries
    )
