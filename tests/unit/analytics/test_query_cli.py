"""`callscribe query` through its own entry point: a saved query's missing or malformed parameter is
one plain line naming it, before any stack or export is needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _callscribe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CALLSCRIBE_LOCAL_STATE": str(tmp_path / "no-stack.json"),  # no stack is running
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "callscribe_local.cli", "query", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_a_missing_call_sid_is_named_in_one_line(tmp_path: Path) -> None:
    done = _callscribe(tmp_path, "transcript-of-a-call")
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        "transcript-of-a-call needs --call-sid: a call SID (CA and 32 hex digits)"
    ]
    assert "(no rows)" not in done.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("transcript-of-a-call", "--call-sid", "12345"),
            "--call-sid '12345' is not a call SID (CA and 32 hex digits)",
        ),
        (("cost-per-day", "--call-sid", "CA" + "0" * 32), "cost-per-day takes no --call-sid"),
    ],
)
def test_a_malformed_or_unexpected_parameter_is_one_line(
    tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    done = _callscribe(tmp_path, *args)
    assert (done.returncode, done.stdout.strip().splitlines()) == (2, [line])


def test_the_list_says_which_queries_take_a_parameter(tmp_path: Path) -> None:
    done = _callscribe(tmp_path, "--list")
    assert done.returncode == 0
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("transcript-of-a-call")]
    assert "--call-sid (a call SID (CA and 32 hex digits))" in line
