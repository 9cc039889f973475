"""Cold import of the recordings Lambda, and what its retry library (tenacity) adds to it.

    .venv/bin/python bench/recordings_cold_start.py [--runs 15] [--before DIR] [--bytecode cached|source]

Every case is a fresh interpreter in Lambda's environment (bench/coldstart.py: LAMBDA_TASK_ROOT and
friends, tracing off as `lambdaTracing=active` deploys it), rounds interleaved:
- floor: the libraries the handler cannot avoid (FLOOR_IMPORTS), for the ratio;
- tenacity beyond the floor: `import tenacity` timed after the floor (what the retry library costs
  a Lambda that already has botocore, urllib3 and pydantic loaded);
- handler: `import functions.recordings.app` (Lambda's init);
- `--before DIR`: the handler's import in another checkout (`git archive <commit> | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from coldstart import (  # noqa: E402 - the bench folder is not a package
    BYTECODE_MODES,
    LAMBDA_ENV,
    TRACING_OFF,
    Case,
    print_table,
    program,
    run_interleaved,
    summary,
)

ENV = {
    "CALLS_TABLE": "bench-calls",
    "TRANSCRIPTS_TABLE": "bench-transcripts",
    "EVENT_BUS_NAME": "bench-bus",
    "RECORDINGS_BUCKET": "bench-recordings",
    "POWERTOOLS_SERVICE_NAME": "callscribe-recordings",
    "POWERTOOLS_METRICS_NAMESPACE": "callscribe",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
FLOOR_IMPORTS = """
import botocore.session, botocore.config, urllib3
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model
"""


def cases(before: Path | None) -> list[Case]:
    env = {**ENV, **LAMBDA_ENV, **TRACING_OFF}
    found = [
        Case("floor", program(FLOOR_IMPORTS + "\nmark('import')"), env),
        Case(
            "tenacity beyond the floor",
            program("import tenacity\nmark('own_import')", prelude=FLOOR_IMPORTS),
            env,
            measures=("own_import",),
        ),
        Case("handler", program("import functions.recordings.app\nmark('import')"), env),
    ]
    if before is not None:
        found.append(
            Case(
                "before: handler", program("import functions.recordings.app\nmark('import')"), env, cwd=before
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--bytecode", choices=BYTECODE_MODES, default="cached", help="bench/coldstart.py")
    args = parser.parse_args()
    results = run_interleaved(cases(args.before), args.runs, bytecode=args.bytecode)
    report = summary(results, floor="floor")
    print_table(report)
    print(
        json.dumps(
            {"load_average_before": results.load_before, "load_average_after": results.load_after, **report},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
