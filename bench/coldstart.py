"""Shared harness of the cold-start benchmarks: cases run in fresh interpreters, interleaved.

The machine is shared (2 cores, other engineers' suites), so a figure measured alone is mostly a
measure of the load at that moment. Every case therefore runs once per round, rounds repeat, and
the order rotates each round so no case always follows the same neighbour; the report is medians.
Each child reports wall time and its own CPU time (`time.process_time`): wall is what a Lambda cold
start is, CPU is the part that does not depend on what else the machine was doing.

A case's program prints one JSON object of measurements (milliseconds, plus flags) as its last
stdout line. `--before DIR` in the benchmarks runs the same cases against another checkout of the
code (`git archive <commit> | tar -x -C DIR`), with the same virtualenv, in the same rounds.

Bytecode: every case loads every module the same way, from a private `PYTHONPYCACHEPREFIX`.
`cached` (the default) warms it with one unrecorded run per case, so libraries and product code all
load from .pyc, as from a bundle that ships bytecode; `source` leaves it empty and writes nothing,
so everything compiles from source at each start, as in Lambda with today's bundles (built with
`pip --no-compile`, no `__pycache__`, and /var/task read-only). Left to the environment, the
virtualenv's libraries load from .pyc while the product's code compiles whenever
`PYTHONDONTWRITEBYTECODE` is set, which is not a cold start anyone runs.
Each measure also reports the garbage collector's share (`<measure>_gc_cpu_ms`, from
`gc.callbacks`): one full collection of the heap costs ~25 ms here, and which phase of a start
crosses its threshold is a matter of allocation counts, not of whose code is slower.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# What Lambda's own environment sets and code reacts to: X-Ray's recorder skips its sampling client
# (a botocore X-Ray client, ~0.3 s of import) only when LAMBDA_TASK_ROOT is set, and Powertools'
# Tracer traces only there. Without these the benchmark measures an import that AWS never runs.
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
}
# `lambdaTracing` (infra/components/functions.py) → the function's environment.
TRACING_OFF = {"POWERTOOLS_TRACE_DISABLED": "true"}
TRACING_SDK = {
    "POWERTOOLS_TRACE_DISABLED": "false",
    # A sampled invocation's header, as Lambda sets it; segments go to a UDP port nobody reads.
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}


def program(body: str, prelude: str = "") -> str:
    """A child: `prelude` runs before the clocks start (reading its input), then `body`.

    `body` calls `mark("name")` to record wall and CPU ms since the previous mark as `name_ms` and
    `name_cpu_ms`, and may put flags in `_out`; the child prints `_out` as JSON at the end.
    """
    return (
        "import gc, json, sys, time\n"
        "_out = {}\n"
        "_gc = [0.0, 0.0]\n"
        "def _gc_clock(phase, info):\n"
        "    if phase == 'start':\n"
        "        _gc[1] = time.process_time()\n"
        "    else:\n"
        "        _gc[0] += time.process_time() - _gc[1]\n"
        "gc.callbacks.append(_gc_clock)\n"
        "def mark(name):\n"
        "    global _t0, _c0\n"
        "    t, c = time.perf_counter(), time.process_time()\n"
        "    _out[name + '_ms'] = (t - _t0) * 1000\n"
        "    _out[name + '_cpu_ms'] = (c - _c0) * 1000\n"
        "    _out[name + '_gc_cpu_ms'] = _gc[0] * 1000\n"
        "    _gc[0] = 0.0\n"
        "    _t0, _c0 = time.perf_counter(), time.process_time()\n"
        f"{prelude}\n"
        "_gc[0] = 0.0\n"
        "_t0, _c0 = time.perf_counter(), time.process_time()\n"
        f"{body}\n"
        "print(json.dumps(_out))\n"
    )


@dataclass(frozen=True)
class Case:
    name: str
    program: str
    env: Mapping[str, str]
    cwd: Path = ROOT
    stdin: Callable[[], str] | None = None  # fresh input for each run (e.g. a new call's event)
    notes: str = ""
    measures: tuple[str, ...] = ("import",)


@dataclass
class Results:
    cases: Sequence[Case]
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)


BYTECODE_MODES = ("cached", "source")


def child_env(case_env: Mapping[str, str], cwd: Path, pycache: Path, bytecode: str) -> dict[str, str]:
    env = {**os.environ, **case_env, "PYTHONPATH": str(cwd), "PYTHONPYCACHEPREFIX": str(pycache)}
    if bytecode == "source":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(case: Case, pycache: Path, bytecode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", case.program],
        input=case.stdin() if case.stdin else None,
        env=child_env(case.env, case.cwd, pycache, bytecode),
        cwd=case.cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"case {case.name!r} failed:\n{done.stderr[-3000:]}")
    sample: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return sample


def run_interleaved(
    cases: Sequence[Case], rounds: int, *, progress: bool = True, bytecode: str = "cached"
) -> Results:
    if bytecode not in BYTECODE_MODES:
        raise ValueError(f"bytecode must be one of {BYTECODE_MODES}, not {bytecode!r}")
    results = Results(cases=cases, samples={case.name: [] for case in cases})
    with tempfile.TemporaryDirectory(prefix="coldstart-pycache-") as folder:
        pycache = Path(folder)
        if bytecode == "cached":
            for case in cases:  # compiles and caches every module the case loads; not recorded
                _run(case, pycache, bytecode)
        results.load_before = [round(x, 2) for x in os.getloadavg()]
        for index in range(rounds):
            shift = index % len(cases)
            for case in [*cases[shift:], *cases[:shift]]:
                results.samples[case.name].append(_run(case, pycache, bytecode))
            if progress:
                print(f"round {index + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    results.load_after = [round(x, 2) for x in os.getloadavg()]
    return results


def summary(results: Results, floor: str | None) -> dict[str, Any]:
    """Medians (and min/max of wall) per case and measure; ratios of import medians to the floor's."""
    report: dict[str, Any] = {}
    floor_samples = results.samples.get(floor or "", [])
    for case in results.cases:
        samples = results.samples[case.name]
        row: dict[str, Any] = {"runs": len(samples)}
        if case.notes:
            row["notes"] = case.notes
        for measure in case.measures:
            wall = [s[f"{measure}_ms"] for s in samples]
            cpu = [s[f"{measure}_cpu_ms"] for s in samples]
            row[measure] = {
                "median_ms": round(statistics.median(wall), 1),
                "min_ms": round(min(wall), 1),
                "max_ms": round(max(wall), 1),
                "median_cpu_ms": round(statistics.median(cpu), 1),
                "median_gc_cpu_ms": round(statistics.median(s[f"{measure}_gc_cpu_ms"] for s in samples), 1),
            }
            if floor_samples and measure == "import" and case.name != floor:
                row[measure]["ratio_to_floor"] = round(
                    statistics.median(wall) / statistics.median(s["import_ms"] for s in floor_samples), 2
                )
                row[measure]["cpu_ratio_to_floor"] = round(
                    statistics.median(cpu) / statistics.median(s["import_cpu_ms"] for s in floor_samples), 2
                )
        flags = {k: v for k, v in samples[-1].items() if not k.endswith("_ms")}
        if flags:
            row["flags (last run)"] = flags
        report[case.name] = row
    return report


def print_table(report: dict[str, Any]) -> None:
    """A Markdown table of the medians, for docs/benchmarks.md."""
    header = "| case | measure | median | min | max | median CPU | of it GC | ratio to floor (wall / CPU) |"
    print(header, file=sys.stderr)
    print("|---|---|---|---|---|---|---|---|", file=sys.stderr)
    for name, row in report.items():
        for measure, values in row.items():
            if not isinstance(values, dict) or "median_ms" not in values:
                continue
            ratio = (
                f"{values['ratio_to_floor']} / {values['cpu_ratio_to_floor']}"
                if "ratio_to_floor" in values
                else ""
            )
            print(
                f"| {name} | {measure} | {values['median_ms']:.0f} ms | {values['min_ms']:.0f} ms | "
                f"{values['max_ms']:.0f} ms | {values['median_cpu_ms']:.0f} ms | "
                f"{values['median_gc_cpu_ms']:.0f} ms | {ratio} |",
                file=sys.stderr,
            )
