"""HTTP tools declared per route: a signed POST to the business's endpoint, whose answer (or error,
or timeout) goes back to the model as the tool result."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import LocalAws
from shared.errors import ConfigError
from tests.support.agent_harness import CALLED, GREETING, TRANSFER_TO, agent_rig, call_parameters
from tests.support.streamer_harness import wait_for_call_end

pytestmark = pytest.mark.integration

SECRET = "tool-signing-secret-0123456789"


class ToolEndpoint:
    """The business's endpoint: checks the signature like a real one should, answers per path."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Callscribe-Timestamp"]
                expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
                valid = hmac.compare_digest(
                    self.headers["X-Callscribe-Signature"], "sha256=" + expected.hexdigest()
                )
                endpoint.calls.append({"path": self.path, "valid": valid, "body": json.loads(body)})
                if self.path == "/slow":
                    time.sleep(1.5)
                status, answer = (200, {"status": "shipped", "eta": "tomorrow"}) if valid else (401, {})
                if self.path == "/broken":
                    status, answer = 503, {"error": "database down"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[ToolEndpoint]:
    tool = ToolEndpoint()
    yield tool
    tool.server.shutdown()
    tool.server.server_close()


def _routes(url: str) -> str:
    schema = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}
    tools = [
        {
            "name": "order_status",
            "description": "Look up an order.",
            "inputSchema": schema,
            "url": f"{url}/orders",
        },
        {"name": "slow_lookup", "description": "Slow.", "url": f"{url}/slow", "timeoutSeconds": 0.5},
        {"name": "broken_lookup", "description": "Broken.", "url": f"{url}/broken"},
    ]
    agent = {"greeting": GREETING, "transferTo": TRANSFER_TO, "tools": tools}
    return json.dumps({CALLED: {"agent": agent}})


async def test_http_tools_answer_fail_and_time_out_back_to_the_model(
    local_stack: LocalAws, call_sid: str, endpoint: ToolEndpoint
) -> None:
    replies = (
        Reply.tools(
            "Let me check.",
            ("order_status", {"order": "A-17"}),
            ("slow_lookup", {}),
            ("broken_lookup", {}),
        ),
        Reply.message("It ships tomorrow."),
    )
    async with agent_rig(
        local_stack, *replies, CALL_ROUTES=_routes(endpoint.url), AGENT_TOOLS_SIGNING_SECRET=SECRET
    ) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 2, within=15)
        await phone.wait_quiet()
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    first, second = rig.model_requests()
    assert [t["name"] for t in first.body["tools"]][3:] == ["order_status", "slow_lookup", "broken_lookup"]
    assert first.body["tools"][3]["input_schema"]["required"] == ["order"]

    assert [c["path"] for c in endpoint.calls] == ["/orders", "/slow", "/broken"]
    assert all(c["valid"] for c in endpoint.calls)
    assert endpoint.calls[0]["body"] == {
        "callSid": call_sid,
        "tool": "order_status",
        "input": {"order": "A-17"},
    }

    results = [b for b in second.body["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert json.loads(results[0]["content"]) == {"status": "shipped", "eta": "tomorrow"}
    assert "is_error" not in results[0]
    assert results[1]["is_error"] is True
    assert results[1]["content"] == "slow_lookup timed out after 0.5 s"
    assert results[2]["is_error"] is True
    assert results[2]["content"].startswith("broken_lookup answered HTTP 503")


async def test_tools_without_a_signing_secret_stop_the_streamer_at_start(
    local_stack: LocalAws, endpoint: ToolEndpoint
) -> None:
    with pytest.raises(ConfigError, match="AGENT_TOOLS_SIGNING_SECRET"):
        async with agent_rig(local_stack, CALL_ROUTES=_routes(endpoint.url)):
            pass
