"""What importing the webhooks Lambda leaves behind (its init, docs/benchmarks.md "Cold start"): no
request, route, event or view model built before a request needs it, and the garbage collector back
on with init's objects frozen. Run in a fresh interpreter, as a new container."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import gc, json
import functions.webhooks.app
from pydantic import BaseModel
def every(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from every(sub)
built = sorted({f"{m.__module__}.{m.__name__}" for m in every(BaseModel)
                if m.__module__.startswith(("shared", "functions")) and m.__pydantic_complete__})
print(json.dumps({"built": built, "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def test_init_builds_only_the_settings_models_and_leaves_the_collector_on() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # settings models may be built at import: the webhooks' own are read by every request (the first
    # one included), and shared.redaction's comes in with the log formatter (a small model, not
    # deferred); everything else waits for its route
    assert [name for name in result["built"] if "settings" not in name.lower() and "costs" not in name] == []
    assert result["gc_enabled"] is True
    assert result["frozen"] > 10_000  # init's modules, classes and functions: never scanned again
