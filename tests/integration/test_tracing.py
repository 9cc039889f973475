"""With `lambdaTracing=sdk` the Lambdas trace through Powertools' real Tracer: checked by what reaches
a stand-in X-Ray daemon (a UDP socket here) from a Lambda-like process (LAMBDA_TASK_ROOT, a sampled
`_X_AMZN_TRACE_ID`, POWERTOOLS_TRACE_DISABLED=false), against moto.

Without a trace header (X-Ray's "context missing") the X-Ray SDK discards the subsegments with a
warning and the handler answers as usual: also checked, since that is what a local run looks like.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callscribe_local.aws_local import LocalAws
from shared.dal.keys import segment_key
from shared.dal.tables import calls_model, segments_model
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.apigw_events import twilio_event
from tests.support.twilio_forms import voice_params
from tests.support.webhooks_env import CALL_ROUTES, ROUTED_NUMBER, STREAM_URL

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
TRACE_HEADER = f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"

# Reads the event from stdin and invokes the handler named in argv, as Lambda would.
INVOKE = """
import json, sys
from callscribe_local.apigw import LocalLambdaContext
module = __import__(f"functions.{sys.argv[1]}.app", fromlist=["handler"])
from shared.observability import tracer
answer = module.handler(json.loads(sys.stdin.read()), LocalLambdaContext(function_name=sys.argv[1]))
print(json.dumps({"answer": answer, "tracer": type(tracer).__name__}))
"""


@dataclass
class XRayDaemon:
    """Receives what the X-Ray SDK emits: UDP datagrams of a header line and one JSON document."""

    sock: socket.socket

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def entities(self) -> list[dict[str, Any]]:
        """Every segment or subsegment received so far, nested ones included.

        Read once the traced process has exited: on loopback a datagram is in this socket's buffer
        by the time `sendto` returns (or within microseconds, if the kernel defers it), so a short
        timeout is plenty; nothing more can come from a process that is gone."""
        found: list[dict[str, Any]] = []
        self.sock.settimeout(0.1)
        while True:
            try:
                datagram = self.sock.recv(65535)
            except TimeoutError:
                return found
            _, document = datagram.decode().split("\n", 1)
            pending = [json.loads(document)]
            while pending:
                entity = pending.pop()
                found.append(entity)
                pending.extend(entity.get("subsegments", []))


@pytest.fixture
def xray_daemon() -> Iterator[XRayDaemon]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield XRayDaemon(sock)


def invoke_traced(
    function: str, event: dict[str, Any], env: dict[str, str], daemon: XRayDaemon, *, header: bool = True
) -> dict[str, Any]:
    lambda_env = {
        **os.environ,
        **env,
        "PYTHONPATH": str(ROOT),
        "LAMBDA_TASK_ROOT": str(ROOT),
        "POWERTOOLS_TRACE_DISABLED": "false",
        "POWERTOOLS_SERVICE_NAME": f"callscribe-{function}",
        "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
    }
    lambda_env.pop("_X_AMZN_TRACE_ID", None)
    if header:
        lambda_env["_X_AMZN_TRACE_ID"] = TRACE_HEADER
    done = subprocess.run(
        [sys.executable, "-c", INVOKE, function],
        input=json.dumps(event),
        cwd=ROOT,
        env=lambda_env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tracer"] == "Tracer"
    return result


def named(entities: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matches = [e for e in entities if e.get("name") == name]
    assert matches, f"no {name!r} in {sorted({str(e.get('name')) for e in entities})}"
    return matches[0]


def webhooks_env(stack: LocalAws) -> dict[str, str]:
    return {
        **stack.env(),
        "STREAM_URL": STREAM_URL,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "CALL_ROUTES": json.dumps(CALL_ROUTES),
    }


def test_a_traced_voice_webhook_records_its_handler_route_and_table_calls(
    local_stack: LocalAws, xray_daemon: XRayDaemon, call_sid: str
) -> None:
    event = twilio_event("/twilio/voice", voice_params(call_sid, called=ROUTED_NUMBER))

    result = invoke_traced("webhooks", event, webhooks_env(local_stack), xray_daemon)

    assert result["answer"]["statusCode"] == 200
    entities = xray_daemon.entities()
    handler = named(entities, "## handler")
    assert handler["trace_id"] == TRACE_ROOT
    assert handler["annotations"] == {"ColdStart": True, "Service": "callscribe-webhooks"}
    named(entities, "## functions.webhooks.app.voice")
    table_calls = [e for e in entities if e.get("name") == "dynamodb" and e.get("namespace") == "aws"]
    assert {call["aws"]["operation"] for call in table_calls} >= {"UpdateItem"}


def test_without_a_trace_header_the_webhook_answers_and_nothing_is_sent(
    local_stack: LocalAws, xray_daemon: XRayDaemon, call_sid: str
) -> None:
    event = twilio_event("/twilio/voice", voice_params(call_sid, called=ROUTED_NUMBER))

    result = invoke_traced("webhooks", event, webhooks_env(local_stack), xray_daemon, header=False)

    assert result["answer"]["statusCode"] == 200
    assert xray_daemon.entities() == []


def test_a_traced_summary_is_annotated_with_its_call(local_stack: LocalAws, xray_daemon: XRayDaemon) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    calls_model(local_stack.names.calls_table)(call_sid, status="completed").save()
    segments = segments_model(local_stack.names.transcripts_table)
    segments(
        call_sid, segment_key(0.0, "inbound"), track="inbound", speaker="caller", text=" ", start=0.0, end=1.0
    ).save()
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Transcript Completed",
        "source": "callscribe",
        "account": "123456789012",
        "time": "2026-11-22T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"callSid": call_sid, "segmentCount": 1},
    }
    env = {**local_stack.env(), "ANTHROPIC_API_KEY": "sk-unused"}  # no speech: the model is not asked

    result = invoke_traced("summaries", event, env, xray_daemon)

    assert result["answer"]["result"] == "no-conversation"
    entities = xray_daemon.entities()
    handler = named(entities, "## handler")
    assert handler["annotations"] == {
        "call_sid": call_sid,
        "ColdStart": True,
        "Service": "callscribe-summaries",
    }
    services = {e["name"] for e in entities if e.get("namespace") == "aws"}
    assert "dynamodb" in services
    assert "events" not in services  # the summary's write is announced by the outbox, not by this Lambda
