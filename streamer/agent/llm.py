"""The agent's LLM: one streamed Messages API request per model round, and the history it reads.

The client is built once per process, on the provider MODEL_PROVIDER names: `AsyncAnthropic`
(ANTHROPIC_BASE_URL honoured through settings or the SDK's own environment lookup) or
`AsyncAnthropicBedrock` (InvokeModelWithResponseStream, signed with the task role). The request is the
same on both, plus `request_extras` on Bedrock. Text deltas are handed out as they arrive so speech
can start after the first sentence; the final message (text and tool_use blocks) goes back into the
history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from anthropic import AsyncAnthropic, AsyncAnthropicBedrock
from anthropic.types import Message

from shared.anthropic_clients import (
    ModelProviderSettings,
    build_async_bedrock_client,
    build_async_client,
)

ModelClient = AsyncAnthropic | AsyncAnthropicBedrock
# one retry: on a phone line a second failure is better answered by an apology than by waiting
MAX_RETRIES = 1


class ModelUnavailableError(RuntimeError):
    """No Anthropic key configured: the agent apologises instead of thinking."""


def build_client(
    provider: ModelProviderSettings, api_key: str | None, base_url: str | None, timeout: float
) -> ModelClient | None:
    """The process's client; None on Anthropic's API without a key (Bedrock needs none: the role)."""
    if provider.on_bedrock:
        return build_async_bedrock_client(provider, timeout_seconds=timeout, max_retries=MAX_RETRIES)
    if not api_key:
        return None
    return build_async_client(api_key, timeout_seconds=timeout, max_retries=MAX_RETRIES, base_url=base_url)


class Brain:
    def __init__(
        self,
        client: ModelClient | None,
        model: str,
        max_tokens: int,
        system: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        extras: dict[str, Any] | None = None,
    ) -> None:
        """`extras`: what every request adds on the client's provider (`request_extras`)."""
        self._client = client
        self.model = model
        self._max_tokens = max_tokens
        self._system = system
        self._tools = tools
        self._extras = extras or {}

    async def think(
        self, messages: list[dict[str, Any]], on_text: Callable[[str], Awaitable[None]]
    ) -> Message:
        if self._client is None:
            raise ModelUnavailableError("ANTHROPIC_API_KEY (or ANTHROPIC_SECRET_ARN) is not set")
        async with self._client.messages.stream(
            model=self.model,
            max_tokens=self._max_tokens,
            system=self._system,  # type: ignore[arg-type]
            tools=self._tools,  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
            **self._extras,
        ) as stream:
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    await on_text(event.delta.text)
            return await stream.get_final_message()


class History:
    """The conversation as Messages API turns. Consecutive turns of one role are merged (the API
    wants them alternating): a caller who speaks twice before the agent answers is one user turn."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.messages)

    def add(self, role: str, content: str | list[dict[str, Any]]) -> None:
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        blocks = [b for b in blocks if not (b.get("type") == "text" and not str(b.get("text", "")).strip())]
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == role:
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": role, "content": blocks})

    def truncate(self, length: int) -> None:
        del self.messages[length:]

    def for_request(self) -> list[dict[str, Any]]:
        """A copy that starts with the user (the greeting is the agent's, so a placeholder leads)."""
        messages = [dict(m, content=list(m["content"])) for m in self.messages]
        if not messages or messages[0]["role"] != "user":
            messages.insert(
                0, {"role": "user", "content": [{"type": "text", "text": "(The call connects.)"}]}
            )
        return messages
