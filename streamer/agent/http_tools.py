"""The business's own HTTP tools: a signed POST per call, the answer (or the failure) to the model.

Request: `POST url` with JSON `{"callSid", "tool", "input"}` and headers
`X-Callscribe-Timestamp: <unix seconds>` and
`X-Callscribe-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, so the endpoint
can check who sent it and reject replays (compare the timestamp with its clock). The answer body
(2xx) goes back to the model as the tool result, cut to 4000 characters; a non-2xx status, a
timeout or a connection failure goes back as a tool error, so the model can tell the caller.

urllib in a worker thread: tool calls are rare (a few per call) and this keeps the streamer's
dependencies as they are; the thread is bounded by the tool's timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from shared.routing import HttpTool

MAX_RESULT_CHARS = 4000
SIGNATURE_HEADER = "X-Callscribe-Signature"
TIMESTAMP_HEADER = "X-Callscribe-Timestamp"


class ToolFailedError(RuntimeError):
    """The tool could not give an answer; the message goes to the model as the error."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def definition(tool: HttpTool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


async def call(tool: HttpTool, secret: str, call_sid: str, arguments: dict[str, Any]) -> str:
    body = json.dumps(
        {"callSid": call_sid, "tool": tool.name, "input": arguments}, separators=(",", ":")
    ).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the URL scheme is checked by the route model
        tool.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "callscribe-agent",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        },
    )

    def send() -> str:
        try:
            with urllib.request.urlopen(request, timeout=tool.timeout_seconds) as response:  # noqa: S310
                return str(response.read(MAX_RESULT_CHARS * 4).decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise ToolFailedError(f"{tool.name} answered HTTP {exc.code}: {detail}".strip()) from exc
        except TimeoutError as exc:
            raise ToolFailedError(f"{tool.name} timed out after {tool.timeout_seconds:g} s") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ToolFailedError(f"{tool.name} timed out after {tool.timeout_seconds:g} s") from exc
            raise ToolFailedError(f"{tool.name} is unreachable: {reason}") from exc

    try:
        text = await asyncio.wait_for(asyncio.to_thread(send), tool.timeout_seconds + 1)
    except TimeoutError as exc:
        raise ToolFailedError(f"{tool.name} timed out after {tool.timeout_seconds:g} s") from exc
    return text[:MAX_RESULT_CHARS] or "(empty answer)"
