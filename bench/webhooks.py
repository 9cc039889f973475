"""Benchmark of the webhooks Lambda: cold start against its floor, warm handler latency.

    .venv/bin/python bench/webhooks.py [--cold-runs 21] [--warm-requests 2000] [--before DIR]
                                       [--cold-only] [--outside-lambda] [--no-first-request]
                                       [--bytecode cached|source]

Cold start (bench/coldstart.py runs the cases in fresh interpreters, interleaved, and reports
medians of wall and CPU time), in Lambda's environment (LAMBDA_TASK_ROOT and friends set):
  - floor: only the imports the handler cannot avoid (FLOOR_IMPORTS), the yardstick of the ratio;
  - handler: `import functions.webhooks.app` with tracing off (`lambdaTracing=active`, the default)
    and with Powertools' Tracer on (`lambdaTracing=sdk`);
  - first request: the same import, then one signed `POST /twilio/voice` for a new call through
    `handler(event, context)` against moto in server mode (its settings, botocore clients, two
    UpdateItems; moto's own time is in the wall figure, as DynamoDB's would be).
`--before DIR` adds the same cases for another checkout (`git archive <commit> | tar -x -C DIR`).
`--outside-lambda` drops Lambda's environment, as this script did before 2026-11-26: the X-Ray SDK
then builds a botocore client at import that it never builds in Lambda.

Warm latency: `handler(event, context)` called in-process with real-shaped, signed API Gateway
events, after a warm-up. Two variants, both excluding the network round trip to DynamoDB:
  - fake DAL: the call store replaced by the in-memory fakes the unit tests
    use (same condition semantics), bound with `app.create_handler` (the handler's own code and
    Powertools decorators): the handler's own cost (parse, signature, TwiML, logs, metrics);
  - moto in-process: the real data-layer adapters (shared/dal) against `moto.mock_aws` (adds request
    serialisation and moto's own processing, which real DynamoDB replaces with a network hop).
Logs and metrics are emitted as in production (INFO), to /dev/null.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from coldstart import (  # noqa: E402 - the bench folder is not a package
    BYTECODE_MODES,
    LAMBDA_ENV,
    TRACING_OFF,
    TRACING_SDK,
    Case,
    print_table,
    program,
    run_interleaved,
    summary,
)

TOKEN = "bench-auth-token"  # noqa: S105 - a local test token
ACCOUNT = "AC" + "0" * 32
ENV = {
    "CALLS_TABLE": "bench-calls",
    "TRANSCRIPTS_TABLE": "bench-transcripts",
    "EVENT_BUS_NAME": "bench-bus",
    "TWILIO_ACCOUNT_SID": ACCOUNT,
    "TWILIO_AUTH_TOKEN": TOKEN,
    "STREAM_URL": "wss://stream.example.com/media",
    "CALL_ROUTES": json.dumps({"+14155550199": {"forwardTo": "+14155550111"}}),
    # the rest of what infra/components/api.py and functions.py give the function (the auth token
    # as a plain value: in AWS it is TWILIO_SECRET_ARN, read on the first request, not at import)
    "WEBHOOK_BASE_URL": "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod",
    "TWILIO_API_BASE_URL": "https://api.twilio.com",
    "POWERTOOLS_SERVICE_NAME": "callscribe-webhooks",
    "POWERTOOLS_METRICS_NAMESPACE": "callscribe",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# The floor: what the handler needs from its libraries, imported the way its code names them, and
# nothing of its own. `import pydantic` alone loads almost nothing (lazy attributes), so the floor
# takes BaseModel and friends, which any model needs; botocore is shared/aws.py's client factory.
FLOOR_IMPORTS = """
import botocore.session, botocore.config
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, field_validator
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from twilio.request_validator import RequestValidator
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model
"""
HANDLER_FLAGS = (
    "_out['xray_sdk_loaded'] = 'aws_xray_sdk' in sys.modules\n"
    "_out['twilio_rest_loaded'] = 'twilio.rest' in sys.modules\n"
    "_out['tracer'] = type(sys.modules['shared.observability'].tracer).__name__\n"
)
IMPORT_HANDLER = "import functions.webhooks.app\nmark('import')\n" + HANDLER_FLAGS
BEYOND_FLOOR = "import functions.webhooks.app\nmark('own_import')\n" + HANDLER_FLAGS
FIRST_REQUEST_PRELUDE = """
import uuid
_event = json.loads(sys.stdin.read())
class _Context:
    function_name = "callscribe-webhooks"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:callscribe-webhooks"
    aws_request_id = str(uuid.uuid4())
    def get_remaining_time_in_millis(self): return 15_000
"""
FIRST_REQUEST = (
    "from functions.webhooks import app\nmark('import')\n"
    "_answer = app.handler(_event, _Context())\nmark('first_request')\n"
    "assert _answer['statusCode'] == 200, _answer\n" + HANDLER_FLAGS
)


def cold_cases(before: Path | None, lambda_env: bool, moto_env: dict[str, str] | None) -> list[Case]:
    base = {**ENV, **(LAMBDA_ENV if lambda_env else {})}
    trees = [("", ROOT)] + ([("before: ", before)] if before else [])
    # Outside Lambda Powertools never traces, so an SDK-tracing case would repeat the other one.
    modes = [("tracing off", TRACING_OFF)] + ([("SDK tracing", TRACING_SDK)] if lambda_env else [])
    cases = [Case("floor", program(FLOOR_IMPORTS + "\nmark('import')"), {**base, **TRACING_OFF})]
    for label, tree in trees:
        for mode, tracing in modes:
            env = {**base, **tracing}
            cases.append(Case(f"{label}handler, {mode}", program(IMPORT_HANDLER), env, cwd=tree))
            # The handler's own share, timed after the floor is loaded: a smaller figure than the
            # whole import, so its run-to-run noise is smaller too (diagnostic; no ratio).
            cases.append(
                Case(
                    f"{label}handler beyond the floor, {mode}",
                    program(BEYOND_FLOOR, prelude=FLOOR_IMPORTS),
                    env,
                    cwd=tree,
                    measures=("own_import",),
                )
            )
    if moto_env is not None:
        for label, tree in trees:
            for mode, tracing in modes:
                cases.append(
                    Case(
                        f"{label}first voice request, {mode}",
                        program(FIRST_REQUEST, prelude=FIRST_REQUEST_PRELUDE),
                        {**base, **moto_env, **tracing},
                        cwd=tree,
                        stdin=_new_call_event,
                        measures=("import", "first_request"),
                    )
                )
    return cases


def _new_call_event() -> str:
    from tests.support.apigw_events import twilio_event
    from tests.support.twilio_forms import voice_params

    params = voice_params("CA" + uuid.uuid4().hex, called="+14155550199")
    return json.dumps(twilio_event("/twilio/voice", params, auth_token=TOKEN))


def cold_start(
    runs: int, before: Path | None, lambda_env: bool, first_request: bool, bytecode: str
) -> dict[str, Any]:
    if not first_request:
        results = run_interleaved(cold_cases(before, lambda_env, None), runs, bytecode=bytecode)
    else:
        from callscribe_local.aws_local import LocalNames, local_aws

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        names = LocalNames(
            calls_table=ENV["CALLS_TABLE"],
            transcripts_table=ENV["TRANSCRIPTS_TABLE"],
            idempotency_table="bench-idempotency",
            event_bus_name=ENV["EVENT_BUS_NAME"],
        )
        with local_aws(names) as stack:
            results = run_interleaved(cold_cases(before, lambda_env, stack.env()), runs, bytecode=bytecode)
    report = summary(results, floor="floor")
    print_table(report)
    return {
        "lambda_environment": lambda_env,
        "bytecode": bytecode,
        "load_average_before": results.load_before,
        "load_average_after": results.load_after,
        "cases": report,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _measure(call: Callable[[], dict[str, Any]], requests: int, expected: int) -> dict[str, float]:
    for _ in range(min(200, requests)):
        call()
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - start) * 1000)
        if result["statusCode"] != expected:
            raise SystemExit(f"unexpected answer {result['statusCode']}: {result.get('body')}")
    return {
        "p50_ms": round(_percentile(samples, 0.50), 3),
        "p99_ms": round(_percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def warm(requests: int, variant: str) -> dict[str, Any]:
    """Runs in a child process (stdout → /dev/null); prints its result as JSON on stderr."""
    os.environ.update(ENV)
    from callscribe_local.apigw import LocalLambdaContext
    from tests.support.apigw_events import twilio_event
    from tests.support.twilio_forms import status_params, voice_params

    context = LocalLambdaContext()
    if variant == "fake":
        from functions.webhooks import app, dependencies
        from functions.webhooks.logic import Services
        from functions.webhooks.settings import WebhookSettings
        from tests.support.fake_calls.webhooks import FakeWebhookCalls
        from tests.support.fake_segments import FakeSegments

        real = dependencies.build_services(WebhookSettings.from_env())
        fake = Services(
            settings=real.settings,
            store=FakeWebhookCalls(),
            calls_api=real.calls_api,
            segments=FakeSegments(),
        )
        # the warm container's handler (the same code and decorators as app.handler), in-memory adapters
        handler = app.create_handler(lambda: fake)
        return _run(handler, context, requests, twilio_event, voice_params, status_params)

    from moto import mock_aws

    with mock_aws():
        from functions.webhooks import app
        from shared.bootstrap import BootstrapSettings, bootstrap

        bootstrap(BootstrapSettings.from_env({**ENV, "IDEMPOTENCY_TABLE": "bench-idempotency"}))
        return _run(app.handler, context, requests, twilio_event, voice_params, status_params)


def _run(
    handler: Any, context: Any, requests: int, twilio_event: Any, voice_params: Any, status_params: Any
) -> dict[str, Any]:
    def voice() -> dict[str, Any]:
        sid = "CA" + uuid.uuid4().hex
        return handler(twilio_event("/twilio/voice", voice_params(sid), auth_token=TOKEN), context)  # type: ignore[no-any-return]

    sid = "CA" + uuid.uuid4().hex
    ringing = twilio_event("/twilio/status", status_params(sid, "ringing", 1), auth_token=TOKEN)

    def status() -> dict[str, Any]:
        return handler(ringing, context)  # type: ignore[no-any-return]

    return {"voice": _measure(voice, requests, 200), "status": _measure(status, requests, 204)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cold-runs", type=int, default=21)
    parser.add_argument("--warm-requests", type=int, default=2000)
    parser.add_argument("--cold-only", action="store_true", help="skip the warm latency runs")
    parser.add_argument("--before", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--outside-lambda", action="store_true", help="cold cases without Lambda's env")
    parser.add_argument("--no-first-request", action="store_true", help="cold imports only (no moto)")
    parser.add_argument(
        "--bytecode",
        choices=BYTECODE_MODES,
        default="cached",
        help="cached: every module from .pyc; source: everything compiled at each start (bench/coldstart.py)",
    )
    parser.add_argument("--warm-child", choices=["fake", "moto"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_child:
        result = warm(args.warm_requests, args.warm_child)
        print(json.dumps(result), file=sys.stderr)
        return
    report: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    report["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    report["cold_start"] = cold_start(
        args.cold_runs, args.before, not args.outside_lambda, not args.no_first_request, args.bytecode
    )
    for variant in () if args.cold_only else ("fake", "moto"):
        child = subprocess.run(
            [sys.executable, __file__, "--warm-child", variant, "--warm-requests", str(args.warm_requests)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
        report[f"warm_{variant}"] = json.loads(child.stderr.strip().splitlines()[-1])
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
