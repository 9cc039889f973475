"""Cold start of the summaries Lambda, measured in fresh interpreters, interleaved.

    .venv/bin/python bench/summaries_cold_start.py [--runs 9] [--before DIR] [--with-aiohttp]

The parent starts moto (server mode) and the Anthropic stand-in (offline summarizer), seeds calls,
then runs each case in a new `python` process pointed at them, as a new Lambda container, in
Lambda's environment (bench/coldstart.py: LAMBDA_TASK_ROOT and friends), rounds interleaved:

- floor: only the library imports the handler cannot avoid (FLOOR_IMPORTS), for the ratio;
- model path: `import functions.summaries.app` (Lambda's init, `import`), then the first invocation
  on a call with a transcript (`first_model`: settings, clients, the idempotency layer, DynamoDB,
  the Anthropic SDK's import, its client, one Messages request, the store and PutEvents), then a
  second call in the same process (`warm_model`). Variants for where the SDK's import happens:
  lazily on the first model request (what the code does), eagerly at init, or in a thread started
  at init; and the lazy one with Powertools' Tracer on (`lambdaTracing=sdk`);
- no-speech path: init, then a first invocation on a call without speech (no SDK at all).
`--before DIR` adds the product's variants for another checkout (`git archive <commit> | tar -x -C DIR`).

The summaries bundle holds no aiohttp (none of its dependencies needs it; this virtualenv has it for
twilio), and `anthropic` imports aiohttp when present (~0.15 s): children block it, as in Lambda,
unless `--with-aiohttp`. Local endpoints, so network time is near zero: the numbers are CPU and
import cost, which is what the cold start is made of.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from coldstart import (  # noqa: E402 - the bench folder is not a package
    LAMBDA_ENV,
    TRACING_OFF,
    TRACING_SDK,
    Case,
    print_table,
    program,
    run_interleaved,
    summary,
)

FLOOR_IMPORTS = """
import botocore.session, botocore.config
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model
mark('import')
"""
PRELUDE = """
import threading, uuid
_calls = json.loads(sys.stdin.read())
if _calls["block_aiohttp"]:
    sys.modules["aiohttp"] = None  # not in the Lambda bundle: `anthropic` then skips it

class _Context:
    function_name = "callscribe-summaries"; memory_limit_in_mb = 512; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:callscribe-summaries"
    aws_request_id = str(uuid.uuid4())
    def get_remaining_time_in_millis(self): return 300_000

def _event(sid, count):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Transcript Completed",
            "source": "callscribe", "account": "123456789012", "time": "2026-11-22T00:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {"callSid": sid, "segmentCount": count}}
"""
INIT = {
    "lazy": "from functions.summaries import app\n",
    "eager": "from functions.summaries import app\nimport anthropic\n",
    "thread": (
        "from functions.summaries import app\n"
        "threading.Thread(target=__import__, args=('anthropic',), daemon=True).start()\n"
    ),
}
MODEL_PATH = """
mark('import')
_out['sdk_loaded_at_init_end'] = 'anthropic' in sys.modules
_first = app.handler(_event(_calls["talk"][0], _calls["count"]), _Context())
mark('first_model')
app.handler(_event(_calls["talk"][1], _calls["count"]), _Context())
mark('warm_model')
assert _first["result"] == "created", _first
_out['xray_sdk_loaded'] = 'aws_xray_sdk' in sys.modules
"""
NO_SPEECH_PATH = """
mark('import')
_first = app.handler(_event(_calls["silent"], 1), _Context())
mark('first_no_speech')
assert _first["result"] == "no-conversation", _first
_out['sdk_loaded'] = 'anthropic' in sys.modules
_out['xray_sdk_loaded'] = 'aws_xray_sdk' in sys.modules
"""

CONVERSATION = [
    ("inbound", "caller", "Hi, I'd like to move my appointment from Tuesday to Friday."),
    ("outbound", "callee", "Of course, Friday at ten works. I'll send you a confirmation email."),
    ("inbound", "caller", "Perfect, thanks so much."),
]


def seed(calls_table: str, transcripts_table: str, call_sid: str, speech: bool) -> None:
    from shared.dal.calls.webhooks import DynamoWebhookCalls
    from shared.dal.keys import segment_key
    from shared.dal.records import Segment, StatusAdvance
    from shared.dal.segments import DynamoSegments
    from shared.status import CallStatus

    at = "2026-11-22T09:30:00.000Z"
    status = CallStatus.COMPLETED
    DynamoWebhookCalls(calls_table).advance_status(
        StatusAdvance(call_sid=call_sid, status=status.value, rank=status.rank, at=at, ended_at=at)
    )
    lines = CONVERSATION if speech else [("inbound", "caller", " ")]
    DynamoSegments(transcripts_table).write_segments(
        [
            Segment(
                call_sid=call_sid,
                segment_key=segment_key(index * 4.0, track),
                track=track,
                speaker=speaker,
                text=text,
                start=index * 4.0,
                end=index * 4.0 + 3,
            )
            for index, (track, speaker, text) in enumerate(lines)
        ]
    )


def cases(env: dict[str, str], before: Path | None, block_aiohttp: bool, calls: Any) -> list[Case]:
    def fresh_calls() -> str:
        silent, *talk = ("CA" + uuid.uuid4().hex for _ in range(3))
        seed(calls.calls_table, calls.transcripts_table, silent, speech=False)
        for sid in talk:
            seed(calls.calls_table, calls.transcripts_table, sid, speech=True)
        return json.dumps(
            {"silent": silent, "talk": talk, "count": len(CONVERSATION), "block_aiohttp": block_aiohttp}
        )

    model = ("import", "first_model", "warm_model")
    no_speech = ("import", "first_no_speech")
    off, sdk = {**env, **TRACING_OFF}, {**env, **TRACING_SDK}
    found = [
        Case("floor", program(FLOOR_IMPORTS), off),
        Case(
            "model path, SDK lazy (the code)",
            program(INIT["lazy"] + MODEL_PATH, PRELUDE),
            off,
            stdin=fresh_calls,
            measures=model,
        ),
        Case(
            "model path, SDK imported at init",
            program(INIT["eager"] + MODEL_PATH, PRELUDE),
            off,
            stdin=fresh_calls,
            measures=model,
        ),
        Case(
            "model path, SDK imported by a thread from init",
            program(INIT["thread"] + MODEL_PATH, PRELUDE),
            off,
            stdin=fresh_calls,
            measures=model,
        ),
        Case(
            "model path, SDK lazy, SDK tracing",
            program(INIT["lazy"] + MODEL_PATH, PRELUDE),
            sdk,
            stdin=fresh_calls,
            measures=model,
        ),
        Case(
            "no-speech path",
            program(INIT["lazy"] + NO_SPEECH_PATH, PRELUDE),
            off,
            stdin=fresh_calls,
            measures=no_speech,
        ),
    ]
    if before is not None:
        found += [
            Case(
                "before: model path",
                program(INIT["lazy"] + MODEL_PATH, PRELUDE),
                off,
                cwd=before,
                stdin=fresh_calls,
                measures=model,
            ),
            Case(
                "before: model path, SDK tracing",
                program(INIT["lazy"] + MODEL_PATH, PRELUDE),
                sdk,
                cwd=before,
                stdin=fresh_calls,
                measures=model,
            ),
            Case(
                "before: no-speech path",
                program(INIT["lazy"] + NO_SPEECH_PATH, PRELUDE),
                off,
                cwd=before,
                stdin=fresh_calls,
                measures=no_speech,
            ),
        ]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--before", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--with-aiohttp", action="store_true", help="let `anthropic` import aiohttp")
    args = parser.parse_args()

    from callscribe_local.anthropic_server import AnthropicServer
    from callscribe_local.aws_local import local_aws
    from callscribe_local.offline_summarizer import OfflineSummarizer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    with local_aws() as stack, AnthropicServer(OfflineSummarizer()) as anthropic:
        env = {
            **stack.env(),
            **LAMBDA_ENV,
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": anthropic.base_url,
            "POWERTOOLS_SERVICE_NAME": "callscribe-summaries",
            "POWERTOOLS_METRICS_NAMESPACE": "callscribe",
        }
        results = run_interleaved(cases(env, args.before, not args.with_aiohttp, stack.names), args.runs)
    report = summary(results, floor="floor")
    print_table(report)
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "aiohttp_blocked": not args.with_aiohttp,
                "load_average_before": results.load_before,
                "load_average_after": results.load_after,
                "cases": report,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
