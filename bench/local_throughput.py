"""A short call placed while a long call's recording is reconciled, on `callscribe local up`: how long
until the short call's record is final.

    .venv/bin/python bench/local_throughput.py [--repeat 3] [--speed 8]

Starts `callscribe local up` (pocketsphinx stand-in, offline summariser) in its own process, places
the bundled conversation three times over (96.6 s, at `--speed`) with `callscribe call`, and as soon
as that call prints `reconciling` (its recording is being transcribed), places a 1.5 s call at real
time with a second `callscribe call`. Prints one JSON object: the seconds from placing the short
call to its command's exit (its record final: process start, 2.4 s of ringing and 1.5 s streamed
included), and the long call's total, per run. Everything runs through the CLI as a person would.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callscribe_local.phone import bundled_conversation  # noqa: E402 - after the path is set


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "callscribe_local.cli", *args]


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text(encoding="utf-8", errors="replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{text!r} never appeared in {path}")
        time.sleep(0.1)


def run_once(work: Path, speed: float, env: dict[str, str]) -> dict[str, float]:
    state = work / "state.json"
    env = {**env, "CALLSCRIBE_LOCAL_STATE": str(state)}
    with (work / "up.log").open("w") as up_log:
        up = subprocess.Popen(_cli("local", "up"), stdout=up_log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not state.exists():
            if up.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the stack did not start: {work / 'up.log'}")
            time.sleep(0.2)
        long_out = work / "long.log"
        started = time.monotonic()
        with long_out.open("w") as sink:
            long_call = subprocess.Popen(
                _cli("call", str(work / "long-caller.ulaw"), str(work / "long-callee.ulaw"),
                     "--speed", f"{speed:g}", "--timeout", "900"),
                stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip
        _wait_for(long_out, "reconciling", long_call, timeout=600)
        short_placed = time.monotonic()
        short = subprocess.run(
            _cli("call", str(work / "short.ulaw"), "--timeout", "900"),
            capture_output=True, env=env, cwd=ROOT, check=False,
        )  # fmt: skip
        short_final = time.monotonic()
        if short.returncode != 0:
            raise SystemExit(f"the short call failed: {short.stdout.decode()[-2000:]}")
        if long_call.wait(900) != 0:
            raise SystemExit(f"the long call failed: {long_out}")
        return {
            "short_call_to_final_seconds": round(short_final - short_placed, 1),
            "long_call_reconciling_at_seconds": round(short_placed - started, 1),
            "long_call_to_final_seconds": round(time.monotonic() - started, 1),
        }
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--speed", type=float, default=8.0, help="the long call's --speed")
    args = parser.parse_args()
    conversation = bundled_conversation()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    runs = []
    with tempfile.TemporaryDirectory(prefix="callscribe-throughput-") as folder:
        work = Path(folder)
        (work / "long-caller.ulaw").write_bytes(conversation.inbound * 3)
        (work / "long-callee.ulaw").write_bytes(conversation.outbound * 3)
        (work / "short.ulaw").write_bytes(conversation.clip(1.5).inbound)
        for _ in range(args.repeat):
            runs.append(run_once(work, args.speed, env))
    print(json.dumps({"long_call_seconds": round(conversation.seconds * 3, 1), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
