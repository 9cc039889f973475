"""The Anthropic SDK adapter of the language-model port, on Anthropic's API or Amazon Bedrock.

What a change must keep: the SDK is imported only when the first client is built, never at import
(it costs about the whole cold-start budget; docs/summaries.md, "Cold start"); structured output is
validated with the same pydantic model whichever way it is asked for (`messages.parse`, or on
Bedrock `StructuredOutput.TOOL`: one forced tool call, thinking off); retries are the SDK's, bounded
by `max_retries`, and each request's timeout is the caller's, so it ends before the Lambda does.
What differs on Bedrock: docs/summaries.md, "Model provider".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from functions.summaries.errors import ModelOutputError, ModelRequestRejectedError, ModelUnavailableError
from functions.summaries.llm import StructuredOutput, StructuredReply, StructuredRequest, T
from functions.summaries.summary import TokenUsage
from shared.anthropic_clients import ModelProvider, build_bedrock_client, request_extras, request_id
from shared.anthropic_clients import build_client as build_client  # app.py builds through here
from shared.validation import describe_errors

if TYPE_CHECKING:
    from anthropic.types import Message

    from functions.summaries.settings import SummaryModelSettings
    from shared.anthropic_clients import MessagesClient

# Statuses the SDK does not retry and a retry of ours would not fix either.
_REJECTED = {400, 401, 403, 404, 413, 422}
ANSWER_TOOL = "record_answer"  # the forced tool of StructuredOutput.TOOL
_WHOLE = {"end_turn", "stop_sequence"}


class AnthropicModel:
    def __init__(
        self,
        client: MessagesClient,
        model: str,
        *,
        provider: ModelProvider = ModelProvider.ANTHROPIC,
        structured_output: StructuredOutput = StructuredOutput.NATIVE,
    ) -> None:
        self._client = client
        self._model = model
        self._provider = provider
        self._tool = structured_output is StructuredOutput.TOOL
        self._extras = request_extras(provider)

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        import anthropic

        try:
            if self._tool:
                value, message = self._ask_with_tool(request)
            else:
                message = self._client.messages.parse(
                    model=self._model,
                    max_tokens=request.max_tokens,
                    system=request.system,
                    messages=[{"role": "user", "content": request.prompt}],
                    output_format=request.output,
                    timeout=request.timeout_seconds,
                    **self._extras,
                )
                value = self._native_answer(request, message)
        except anthropic.APIStatusError as exc:
            detail = _error_detail(exc)
            ids = f"(request-id {request_id(exc.response.headers)})"
            if exc.status_code in _REJECTED:
                raise ModelRequestRejectedError(
                    f"{request.purpose}: HTTP {exc.status_code} {detail}{self._hint(detail)} {ids}"
                ) from exc
            raise ModelUnavailableError(
                f"{request.purpose}: HTTP {exc.status_code} {detail} after retries {ids}"
            ) from exc
        except anthropic.APIConnectionError as exc:  # includes APITimeoutError
            raise ModelUnavailableError(f"{request.purpose}: {type(exc).__name__}: {exc}") from exc
        except pydantic.ValidationError as exc:
            # where and what, never the values: the answer quotes the call, and this is logged
            raise ModelOutputError(
                f"{request.purpose}: answer does not match the schema: {describe_errors(exc)}"
            ) from None

        usage = message.usage
        on_bedrock = self._provider is ModelProvider.BEDROCK
        return StructuredReply(
            value=value,
            model=message.model,
            usage=TokenUsage(
                requests=1,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            ),
            request_id=_message_request_id(message),
            bedrock_model_id=self._model if on_bedrock else None,
        )

    def _native_answer(self, request: StructuredRequest[T], message: Any) -> T:
        if message.stop_reason not in _WHOLE:
            raise _not_whole(request, message)
        parsed: T | None = message.parsed_output
        if parsed is None:
            raise ModelOutputError(
                f"{request.purpose}: no structured answer (request-id {_message_request_id(message)})"
            )
        return parsed

    def _ask_with_tool(self, request: StructuredRequest[T]) -> tuple[T, Message]:
        from anthropic import transform_schema

        message = self._client.messages.create(
            model=self._model,
            max_tokens=request.max_tokens,
            system=request.system,
            messages=[{"role": "user", "content": request.prompt}],
            tools=[
                {
                    "name": ANSWER_TOOL,
                    "description": "Record the answer, in exactly this schema.",
                    "input_schema": transform_schema(request.output),
                }
            ],
            tool_choice={"type": "tool", "name": ANSWER_TOOL},
            thinking={"type": "disabled"},
            timeout=request.timeout_seconds,
            **self._extras,
        )
        if message.stop_reason not in _WHOLE | {"tool_use"}:
            raise _not_whole(request, message)
        calls = [b for b in message.content if b.type == "tool_use" and b.name == ANSWER_TOOL]
        if len(calls) != 1:
            raise ModelOutputError(
                f"{request.purpose}: no {ANSWER_TOOL} call in the answer "
                f"(request-id {_message_request_id(message)})"
            )
        return request.output.model_validate(calls[0].input), message

    def _hint(self, detail: str) -> str:
        """What to do about Bedrock refusing `output_config` (some Claude models on InvokeModel do)."""
        if self._provider is ModelProvider.BEDROCK and not self._tool and "output_config" in detail:
            return " (this Bedrock model refuses output_config: set BEDROCK_STRUCTURED_OUTPUT=tool)"
        return ""


def language_model(settings: SummaryModelSettings, timeout_seconds: float) -> AnthropicModel:
    """The adapter on the provider the settings name: one client, built here (the SDK imported now)."""
    provider = settings.provider
    client: MessagesClient
    if provider.on_bedrock:
        client = build_bedrock_client(provider, timeout_seconds, settings.anthropic_max_retries)
    else:
        assert settings.anthropic_api_key is not None  # the settings require it on this provider
        client = build_client(
            settings.anthropic_api_key.get_secret_value(),
            timeout_seconds,
            settings.anthropic_max_retries,
            base_url=settings.anthropic_base_url,
        )
    return AnthropicModel(
        client,
        settings.summary_model,
        provider=provider.model_provider,
        structured_output=settings.bedrock_structured_output
        if provider.on_bedrock
        else StructuredOutput.NATIVE,
    )


def _not_whole(request: StructuredRequest[Any], message: Any) -> ModelOutputError:
    return ModelOutputError(
        f"{request.purpose}: stop_reason {message.stop_reason!r}, the answer is not whole "
        f"(request-id {_message_request_id(message)})"
    )


def _message_request_id(message: Any) -> str | None:
    """Anthropic's `request-id` (the SDK keeps it on the message); Bedrock's answer has none there,
    so its message id (`msg_bdrk_…`) names the request instead."""
    found = getattr(message, "_request_id", None)
    return str(found) if found else str(getattr(message, "id", "")) or None


def _error_detail(exc: Any) -> str:
    """`type: message` of an API error: Anthropic's `{"error": {"type", "message"}}` body, or Bedrock's
    `{"message"}` body with the type in the `x-amzn-ErrorType` header."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('type')}: {error.get('message')}"
    if isinstance(body, dict) and "message" in body:
        kind = str(exc.response.headers.get("x-amzn-errortype", "")).split(":", 1)[0] or "error"
        return f"{kind}: {body['message']}"
    return str(exc)
