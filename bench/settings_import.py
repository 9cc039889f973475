"""What pydantic-settings would add to the webhooks Lambda's cold import (the reason shared/settings.py
does not use it: docs/configuration.md, "Why not pydantic-settings").

    .venv/bin/python bench/settings_import.py [--rounds 21]

pydantic-settings is not a dependency: install it into the virtualenv to run this
(`pip install 'pydantic-settings>=2.16,<3'`, which brings python-dotenv), and uninstall it after.
Cases, each a fresh interpreter in Lambda's environment with the webhooks' variables, interleaved
in rounds (bench/coldstart.py), all timed after the webhooks' floor imports (bench/webhooks.py's
FLOOR_IMPORTS) are loaded:

- floor: the floor imports themselves (the yardstick of the import ratio);
- pydantic-settings: `from pydantic_settings import BaseSettings, ...` alone;
- handler: `import functions.webhooks.app` (the product's share beyond its floor);
- handler with pydantic-settings: the same import after pydantic-settings', i.e. what the handler's
  import costs when its settings classes are `BaseSettings` (their class creation costs what a
  plain model's does).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from coldstart import LAMBDA_ENV, TRACING_OFF, Case, print_table, program, run_interleaved, summary  # noqa: E402
from webhooks import ENV, FLOOR_IMPORTS  # noqa: E402

LIBRARY = "from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource\n"


def cases() -> list[Case]:
    env = {**ENV, **LAMBDA_ENV, **TRACING_OFF}
    beyond = ("own_import",)
    return [
        Case("floor", program(FLOOR_IMPORTS + "\nmark('import')"), env),
        Case(
            "pydantic-settings", program(LIBRARY + "mark('own_import')", FLOOR_IMPORTS), env, measures=beyond
        ),
        Case(
            "handler",
            program("import functions.webhooks.app\nmark('own_import')", FLOOR_IMPORTS),
            env,
            measures=beyond,
        ),
        Case(
            "handler with pydantic-settings",
            program(LIBRARY + "import functions.webhooks.app\nmark('own_import')", FLOOR_IMPORTS),
            env,
            measures=beyond,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    if importlib.util.find_spec("pydantic_settings") is None:
        raise SystemExit("pydantic-settings is not installed: pip install 'pydantic-settings>=2.16,<3'")
    results = run_interleaved(cases(), args.rounds)
    report = summary(results, floor="floor")
    print_table(report)
    print(
        json.dumps({"load_before": results.load_before, "load_after": results.load_after, **report}, indent=2)
    )


if __name__ == "__main__":
    main()
