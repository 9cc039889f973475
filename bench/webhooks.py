"""Benchmark of the webhooks Lambda: cold import of the handler module, warm handler latency.

    .venv/bin/python bench/webhooks.py [--cold-runs 21] [--warm-requests 2000]

Cold import: a fresh interpreter per run imports `functions.webhooks.app` and reports the import's
wall time (interpreter start-up excluded); the median of the runs is the figure, plus a
per-package split of one `-X importtime` run to show where the time goes.

Warm latency: `handler(event, context)` called in-process with real-shaped, signed API Gateway
events, after a warm-up. Two variants, both excluding the network round trip to DynamoDB:
  - fake DAL: the call store and the bus publisher replaced by the in-memory fakes the unit tests
    use (same condition semantics), bound with `app.create_app` under the handler's own
    Powertools decorators: the handler's own cost (parse, signature, TwiML, logs, metrics);
  - moto in-process: the real data-layer adapters (shared/dal) against `moto.mock_aws` (adds request
    serialisation and moto's own processing, which real DynamoDB replaces with a network hop).
Logs and metrics are emitted as in production (INFO), to /dev/null.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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
    "POWERTOOLS_SERVICE_NAME": "callscribe-webhooks",
    "POWERTOOLS_METRICS_NAMESPACE": "callscribe",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
IMPORT_SNIPPET = (
    "import time; t = time.perf_counter(); import functions.webhooks.app; "
    "print((time.perf_counter() - t) * 1000)"
)
# The same, with the X-Ray SDK (imported by Powertools' Tracer when it is built) loaded before the
# clock starts: what the handler costs beyond tracing.
IMPORT_AFTER_XRAY_SNIPPET = "import aws_xray_sdk.core; " + IMPORT_SNIPPET


def _import_times(snippet: str, runs: int, env: dict[str, str]) -> list[float]:
    timings = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", snippet], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        timings.append(float(out.stdout.strip()))
    return timings


def cold_import(runs: int) -> dict[str, Any]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    timings = _import_times(IMPORT_SNIPPET, runs, env)
    beyond_xray = _import_times(IMPORT_AFTER_XRAY_SNIPPET, runs, env)
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import functions.webhooks.app"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    by_package: Counter[str] = Counter()
    for line in trace.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            by_package[found.group(2).split(".")[0]] += int(found.group(1))
    heavy = {"twilio.rest", "anthropic", "requests", "aiohttp"}
    loaded = set(re.findall(r"\|\s*(\S+)$", trace, flags=re.MULTILINE))
    return {
        "runs": runs,
        "median_ms": round(statistics.median(timings), 1),
        "min_ms": round(min(timings), 1),
        "max_ms": round(max(timings), 1),
        "median_ms_with_xray_sdk_preloaded": round(statistics.median(beyond_xray), 1),
        "top_packages_ms (one -X importtime run, self time)": {
            name: round(us / 1000, 1) for name, us in by_package.most_common(8)
        },
        "lazy_not_imported": sorted(heavy - loaded),
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
        from aws_lambda_powertools.logging import correlation_paths

        from functions.webhooks import app, dependencies
        from functions.webhooks.logic import Services
        from functions.webhooks.settings import webhook_settings
        from shared.observability import logger, metrics, tracer
        from tests.support.fake_call_store import FakeCallStore, FakePublisher, FakeSegments

        real = dependencies.build_services(webhook_settings())
        fake = Services(
            settings=real.settings,
            store=FakeCallStore(),
            publisher=FakePublisher(),
            calls_api=real.calls_api,
            segments=FakeSegments(),
        )
        # the warm container's handler (the same decorators as app.handler), with in-memory adapters
        handler = logger.inject_lambda_context(
            correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
        )(tracer.capture_lambda_handler(metrics.log_metrics(app.create_app(lambda: fake))))
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
    parser.add_argument("--warm-child", choices=["fake", "moto"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_child:
        result = warm(args.warm_requests, args.warm_child)
        print(json.dumps(result), file=sys.stderr)
        return
    report: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    report["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    report["cold_import"] = cold_import(args.cold_runs)
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
