"""The Anthropic Messages API adapter of the language-model port.

`import anthropic` costs ~1.5 s, about the whole cold-start budget, so this module imports the SDK
only when the first client is built (the first invocation that needs the model); the no-speech path
and redelivered events never pay for it.

Structured output uses `messages.parse(output_format=<pydantic model>)`: the SDK sends the model's
JSON schema as `output_config.format` and validates the answer with the same model. Retries of
408/409/429/5xx/529 and connection errors (with backoff and `retry-after`) are the SDK's, bounded by
`max_retries`; each request's timeout is chosen by the caller so it ends before the Lambda does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from functions.summaries.errors import ModelOutputError, ModelRequestRejectedError, ModelUnavailableError
from functions.summaries.llm import StructuredReply, StructuredRequest, T
from functions.summaries.summary import TokenUsage
from shared.anthropic_clients import build_client as build_client  # app.py builds through here
from shared.validation import describe_errors

if TYPE_CHECKING:
    from anthropic import Anthropic

# Statuses the SDK does not retry and a retry of ours would not fix either.
_REJECTED = {400, 401, 403, 404, 413, 422}


class AnthropicModel:
    def __init__(self, client: Anthropic, model: str) -> None:
        self._client = client
        self._model = model

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        import anthropic

        try:
            message = self._client.messages.parse(
                model=self._model,
                max_tokens=request.max_tokens,
                system=request.system,
                messages=[{"role": "user", "content": request.prompt}],
                output_format=request.output,
                timeout=request.timeout_seconds,
            )
        except anthropic.APIStatusError as exc:
            detail = _error_detail(exc)
            if exc.status_code in _REJECTED:
                raise ModelRequestRejectedError(
                    f"{request.purpose}: HTTP {exc.status_code} {detail} (request-id {exc.request_id})"
                ) from exc
            raise ModelUnavailableError(
                f"{request.purpose}: HTTP {exc.status_code} {detail} after retries "
                f"(request-id {exc.request_id})"
            ) from exc
        except anthropic.APIConnectionError as exc:  # includes APITimeoutError
            raise ModelUnavailableError(f"{request.purpose}: {type(exc).__name__}: {exc}") from exc
        except pydantic.ValidationError as exc:
            # where and what, never the values: the answer quotes the call, and this is logged
            raise ModelOutputError(
                f"{request.purpose}: answer does not match the schema: {describe_errors(exc)}"
            ) from None

        request_id = getattr(message, "_request_id", None)
        if message.stop_reason not in ("end_turn", "stop_sequence"):
            raise ModelOutputError(
                f"{request.purpose}: stop_reason {message.stop_reason!r}, the answer is not whole "
                f"(request-id {request_id})"
            )
        parsed = message.parsed_output
        if parsed is None:
            raise ModelOutputError(f"{request.purpose}: no structured answer (request-id {request_id})")
        usage = message.usage
        return StructuredReply(
            value=parsed,
            model=message.model,
            usage=TokenUsage(
                requests=1,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            ),
            request_id=request_id,
        )


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('type')}: {error.get('message')}"
    return str(exc)
