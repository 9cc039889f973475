"""What the `twilio` client costs the sweeper Lambda (why it is not a urllib3 client of our own:
docs/recordings.md, "When a callback was lost").

    .venv/bin/python bench/sweeper_twilio_client.py [--rounds 21]

Cases, each a fresh interpreter in Lambda's environment, interleaved in rounds (bench/coldstart.py):

- floor: `import functions.sweeper.app`, the handler's cold import (boto3, pynamodb, Powertools;
  urllib3 comes with botocore): the yardstick;
- client: the same, then what the sweeper's first read of Twilio adds: `from twilio.rest import
  Client`, the client with its HTTP client, and the Calls resource it fetches from (no request).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from coldstart import LAMBDA_ENV, TRACING_OFF, Case, print_table, program, run_interleaved, summary  # noqa: E402

ENV = {
    "CALLS_TABLE": "calls",
    "TRANSCRIPTS_TABLE": "transcripts",
    "EVENT_BUS_NAME": "bus",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "callscribe-sweeper",
    "POWERTOOLS_METRICS_NAMESPACE": "callscribe",
}
HANDLER = "import functions.sweeper.app\n"
CLIENT = (
    "from functions.sweeper.twilio_rest import TwilioRestReader\n"
    "reader = TwilioRestReader('AC' + '0' * 32, 'token', 'http://127.0.0.1:9')\n"
    "reader.client().calls('CA' + '0' * 32)\n"
    "mark('own_import')\n"
)


def cases() -> list[Case]:
    env = {**ENV, **LAMBDA_ENV, **TRACING_OFF}
    return [
        Case("floor", program(HANDLER + "mark('import')"), env),
        Case("client", program(CLIENT, HANDLER), env, measures=("own_import",)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    results = run_interleaved(cases(), args.rounds)
    report = summary(results, floor="floor")
    print_table(report)
    loads = {"load_before": results.load_before, "load_after": results.load_after}
    print(json.dumps({**loads, **report}, indent=2))


if __name__ == "__main__":
    main()
