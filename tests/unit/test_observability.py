"""The tracer facade: with tracing off nothing loads the X-Ray SDK, and the stand-in keeps the
interface the Lambdas use; whether tracing is on is exactly Powertools' own rule.

Imports are checked in fresh interpreters (this one has imported everything by now). Speed is not
asserted anywhere: bench/webhooks.py and bench/summaries_cold_start.py measure it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools import Tracer

from shared.observability import DisabledTracer, tracing_enabled

ROOT = Path(__file__).resolve().parents[2]
TRACING_VARIABLES = (
    "POWERTOOLS_TRACE_DISABLED",
    "LAMBDA_TASK_ROOT",
    "AWS_SAM_LOCAL",
    "AWS_CHALICE_CLI_MODE",
    "_X_AMZN_TRACE_ID",
)
# Left out of the children too, so the summaries handler fails on its settings whatever other tests
# (a session's moto, say) put in this process's environment.
SETTINGS_VARIABLES = (
    "CALLS_TABLE",
    "TRANSCRIPTS_TABLE",
    "IDEMPOTENCY_TABLE",
    "EVENT_BUS_NAME",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_SECRET_ARN",
)


def run_child(code: str, **env: str) -> dict[str, object]:
    """Run `code` in a new interpreter at the repository root; it prints one JSON object last."""
    left_out = {*TRACING_VARIABLES, *SETTINGS_VARIABLES}
    base = {k: v for k, v in os.environ.items() if k not in left_out}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# Imports both Lambdas, then calls each handler once so the decorators and `put_annotation` run: the
# webhook answers an unsigned request 403; the summaries handler annotates the call SID and then
# fails on its missing settings (no tables configured here), which is fine for this purpose.
LAMBDAS_INVOKED = """
import json, sys
from callscribe_local.apigw import LocalLambdaContext
from functions.summaries import app as summaries
from functions.webhooks import app as webhooks
from shared.observability import tracer
event = {"resource": "/twilio/voice", "path": "/twilio/voice", "httpMethod": "POST", "headers": {},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "requestContext": {"stage": "prod"},
         "body": "", "isBase64Encoded": False}
status = webhooks.handler(event, LocalLambdaContext())["statusCode"]
bridge = {"version": "0", "id": "1", "detail-type": "Transcript Completed", "source": "callscribe",
          "account": "123456789012", "time": "2026-11-22T00:00:00Z", "region": "us-east-1",
          "resources": [], "detail": {"callSid": "CA" + "0" * 32, "segmentCount": 1}}
try:
    summaries.handler(bridge, LocalLambdaContext(function_name="callscribe-summaries"))
except Exception as exc:
    summaries_error = type(exc).__name__
print(json.dumps({"status": status, "tracer": type(tracer).__name__, "summaries_error": summaries_error,
                  "xray": sorted(m for m in sys.modules if m.startswith("aws_xray_sdk"))}))
"""


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="local run: tracing unset, outside Lambda"),
        pytest.param(
            {"LAMBDA_TASK_ROOT": str(ROOT), "POWERTOOLS_TRACE_DISABLED": "true"},
            id="Lambda with lambdaTracing=active (the default)",
        ),
        pytest.param({"POWERTOOLS_TRACE_DISABLED": "false"}, id="tracing asked for, but outside Lambda"),
    ],
)
def test_with_tracing_off_neither_lambda_loads_the_xray_sdk(env: dict[str, str]) -> None:
    result = run_child(LAMBDAS_INVOKED, **env)

    assert result["xray"] == []
    assert result["tracer"] == "DisabledTracer"
    assert result["status"] == 403
    assert result["summaries_error"] == "ConfigError"


def test_with_tracing_on_the_lambdas_get_powertools_tracer_and_only_botocore_is_patched() -> None:
    """What the traces contain is checked in tests/integration/test_tracing.py."""
    code = (
        "import json, sys, functions.webhooks.app, functions.summaries.app\n"
        "from shared.observability import tracer\n"
        "from aws_xray_sdk.core import patcher\n"
        "print(json.dumps({'tracer': type(tracer).__name__, 'disabled': tracer.disabled,\n"
        "                  'patched': sorted(patcher._PATCHED_MODULES),\n"
        "                  'requests': 'requests' in sys.modules}))\n"
    )
    result = run_child(code, LAMBDA_TASK_ROOT=str(ROOT), POWERTOOLS_TRACE_DISABLED="false")

    assert result == {"tracer": "Tracer", "disabled": False, "patched": ["botocore"], "requests": False}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"POWERTOOLS_TRACE_DISABLED": "false"},
        {"LAMBDA_TASK_ROOT": "/var/task"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"},
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"},
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"},
    ],
)
def test_tracing_is_on_exactly_when_powertools_would_trace(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools' private rule is read here only to catch drift after an upgrade."""
    for name in TRACING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert tracing_enabled() is not bool(Tracer._is_tracer_disabled())


def test_the_disabled_tracer_returns_decorated_functions_unchanged() -> None:
    tracer = DisabledTracer()

    def route() -> str:
        return "ok"

    async def task() -> str:
        return "ok"

    def lines() -> object:
        yield "ok"

    for function in (route, task, lines):
        assert tracer.capture_method(function) is function
        assert tracer.capture_method(capture_response=False)(function) is function
    assert tracer.capture_lambda_handler(route) is route
    assert tracer.capture_lambda_handler(capture_response=False)(route) is route


async def test_the_disabled_tracer_accepts_what_the_real_one_does() -> None:
    tracer = DisabledTracer(service="callscribe-tests")

    tracer.put_annotation(key="call_sid", value="CA1")
    tracer.put_metadata(key="detail", value={"a": 1})
    tracer.patch(["requests"])
    tracer.ignore_endpoint(hostname="example.com")
    with tracer.provider.in_subsegment(name="## step") as segment:
        segment.put_annotation(key="k", value=1)
        segment.put_metadata(key="k", value="v")
        segment.add_exception(ValueError("x"), [])
    async with tracer.provider.in_subsegment_async(name="## async step") as segment:
        segment.put_annotation(key="k", value=True)

    assert isinstance(tracer, Tracer)
    assert tracer.disabled is True
    assert tracer.service == "callscribe-tests"
