"""Cold start of the summaries Lambda, measured in fresh interpreters.

    .venv/bin/python bench/summaries_cold_start.py [--runs 5]

The parent starts moto (server mode) and the Anthropic stand-in (offline summarizer), seeds calls,
then runs each measurement in a new `python` process pointed at them, as a new Lambda container:

- import: `import functions.summaries.app` (what Lambda's init phase pays);
- first invocation, no speech: handler on a call without speech (settings, boto3 clients, the
  idempotency layer, DynamoDB reads and writes, PutEvents; the Anthropic SDK is never loaded);
- first invocation, model path: handler on a call with a transcript (adds `import anthropic`, the
  client and one Messages request to the local stand-in);
- warm invocation: a second call with a transcript in the same process.

Medians over `--runs` fresh processes. Local endpoints, so network time is near zero: the numbers
are CPU and import cost, which is what the cold start is made of.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, time, uuid
t0 = time.perf_counter()
from functions.summaries import app
t1 = time.perf_counter()

class Context:
    function_name = "callscribe-summaries"; memory_limit_in_mb = 512; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:callscribe-summaries"
    aws_request_id = str(uuid.uuid4())
    def get_remaining_time_in_millis(self): return 300_000

def event(sid, count):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Transcript Completed",
            "source": "callscribe", "account": "123456789012", "time": "2026-11-22T00:00:00Z",
            "region": "us-east-1", "resources": [],
            "detail": {"callSid": sid, "segmentCount": count}}

silent, talk1, talk2, count = sys.argv[1:5]
t2 = time.perf_counter()
app.handler(event(silent, 1), Context())
t3 = time.perf_counter()
app.handler(event(talk1, int(count)), Context())
t4 = time.perf_counter()
app.handler(event(talk2, int(count)), Context())
t5 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_no_speech": t3 - t2, "first_model": t4 - t3,
                  "warm_model": t5 - t4, "anthropic_loaded": "anthropic" in sys.modules}))
"""

CONVERSATION = [
    ("inbound", "caller", "Hi, I'd like to move my appointment from Tuesday to Friday."),
    ("outbound", "callee", "Of course, Friday at ten works. I'll send you a confirmation email."),
    ("inbound", "caller", "Perfect, thanks so much."),
]


def seed(calls_table: str, transcripts_table: str, call_sid: str, speech: bool) -> None:
    from shared.dal.calls import DynamoCalls
    from shared.dal.records import Segment, StatusAdvance, segment_key
    from shared.dal.segments import DynamoSegments
    from shared.status import CallStatus

    at = "2026-11-22T09:30:00.000Z"
    status = CallStatus.COMPLETED
    DynamoCalls(calls_table).advance_status(
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from callscribe_local.anthropic_server import AnthropicServer, OfflineSummarizer
    from callscribe_local.aws_local import local_aws

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    results: list[dict[str, float]] = []
    with local_aws() as stack, AnthropicServer(OfflineSummarizer()) as anthropic:
        env = {
            **os.environ,
            **stack.env(),
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": anthropic.base_url,
            "POWERTOOLS_SERVICE_NAME": "callscribe-summaries",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "callscribe",
            "PYTHONDONTWRITEBYTECODE": "0",
        }
        for _ in range(args.runs):
            sids = ["CA" + uuid.uuid4().hex for _ in range(3)]
            seed(stack.names.calls_table, stack.names.transcripts_table, sids[0], speech=False)
            for sid in sids[1:]:
                seed(stack.names.calls_table, stack.names.transcripts_table, sid, speech=True)
            done = subprocess.run(
                [sys.executable, "-c", CHILD, *sids, str(len(CONVERSATION))],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))

    print(f"summaries cold start, median of {args.runs} fresh interpreters (Python {sys.version.split()[0]})")
    for key, label in [
        ("import", "import functions.summaries.app"),
        ("first_no_speech", "first invocation, no speech (no SDK)"),
        ("first_model", "first invocation with a model call"),
        ("warm_model", "warm invocation with a model call"),
    ]:
        values = [r[key] for r in results]
        print(f"  {label:<42} {statistics.median(values) * 1000:7.0f} ms  (min {min(values) * 1000:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
