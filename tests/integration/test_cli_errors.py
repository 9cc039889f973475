"""Every `callscribe` failure is one plain line saying what to do, with an exit code per kind, through
the CLI's own entry point (`main`, and the installed command's module in a subprocess): bad files,
bad SQL, bad call SIDs, no stack, a stale state file, a port in use, a bug (`--debug` for its
traceback). The failures that need a running stack (unknown call, options a running stack ignores,
Ctrl-C mid-call) are in tests/e2e/test_call_cli.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callscribe_local import cli
from callscribe_local.cli_errors import ExitCode
from shared import aws

pytestmark = pytest.mark.integration  # local sockets: a port in use, a stack that does not answer

REPO = Path(__file__).resolve().parents[2]
SID = "CA" + "0" * 32


@pytest.fixture(autouse=True)
def own_environment() -> Iterator[None]:
    """The commands point this process's AWS clients at the stack they find (`point_at`): here a dead
    one, which later tests must not inherit."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    aws.reset_clients()


@pytest.fixture(autouse=True)
def no_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No local stack is running (the state file does not exist); wide lines stay whole."""
    state = tmp_path / "state.json"
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(state))
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("CALLSCRIBE_DEBUG", raising=False)
    return state


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = cli.main(list(args))
    out = capsys.readouterr().out
    return code, [line for line in out.splitlines() if line.strip()]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stale_state(no_stack: Path) -> Path:
    """A state file whose process is alive (this one) but whose stack answers nowhere."""
    port = _closed_port()
    dead = f"http://127.0.0.1:{port}"
    names = {"calls_table": "c", "transcripts_table": "t", "idempotency_table": "i", "event_bus_name": "b"}
    state = {
        "pid": os.getpid(), "api": f"{dead}/local", "stream": f"ws://127.0.0.1:{port}/media", "aws": dead,
        "deepgram": f"ws://127.0.0.1:{port}", "anthropic": dead, "log_dir": "/nowhere", "account_sid": "AC1",
        "auth_token": "t", "twilio": dead, "names": {**names, "recordings_bucket": "r"},
    }  # fmt: skip
    no_stack.write_text(json.dumps(state))
    return no_stack


def test_audio_files_that_cannot_be_a_call_are_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.wav"
    assert _run(capsys, "call", str(missing)) == (ExitCode.USAGE, [f"{missing}: no such file"])
    for name in ("empty.wav", "empty.ulaw"):
        empty = tmp_path / name
        empty.write_bytes(b"")
        assert _run(capsys, "call", str(empty)) == (ExitCode.USAGE, [f"{empty}: the file is empty (0 bytes)"])
    silent = tmp_path / "silent.wav"  # a valid header, no samples
    silent.write_bytes(b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes.fromhex(
        "10000000 0100 0100 401f0000 803e0000 0200 1000".replace(" ", "")) + b"data" + bytes(4))  # fmt: skip
    assert _run(capsys, "call", str(silent)) == (ExitCode.USAGE, [f"{silent}: no audio in it (0 samples)"])
    unsupported = f"{tmp_path}: unsupported audio file (use .wav or headerless 8 kHz mu-law .ulaw)"
    assert _run(capsys, "call", str(tmp_path)) == (ExitCode.USAGE, [unsupported])
    code, lines = _run(capsys, "call", str(missing), "--deepgram-outage", "5")
    assert (code, lines) == (ExitCode.USAGE, ["--deepgram-outage '5': give START:END in seconds"])


def test_a_call_sid_is_checked_before_anything_is_asked(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "show", "nonsense")
    assert (code, lines) == (ExitCode.USAGE, ["'nonsense' is not a call SID (CA and 32 hex digits)"])


def test_no_stack_running_says_how_to_start_one(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["show", SID], ["export"], ["sweep"], ["query", "cost-per-day"]):
        code, lines = _run(capsys, *command)
        assert (code, lines) == (
            ExitCode.STACK_STATE,
            ["no local stack is running: start one with: callscribe local up"],
        ), command


def test_bad_sql_is_one_line_before_any_stack_is_needed(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _run(capsys, "query", "--sql", "selec 1")
    assert code == ExitCode.USAGE
    assert lines == ["--sql: not valid Trino SQL: Invalid expression / Unexpected token. Line 1, Col: 7."]
    assert _run(capsys, "query", "--sql", "select 1; select 2") == (
        ExitCode.USAGE,
        ["--sql: one statement at a time"],
    )


def test_a_stack_that_does_not_answer_names_its_state_file(
    stale_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["show", SID], ["export"], ["sweep"]):
        code, lines = _run(capsys, *command)
        assert code == ExitCode.STACK_STATE, (command, lines)
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"the local stack in {stale_state} does not answer at http://127.0.0.1:")
        assert lines[0].endswith("if it is gone, delete that file; then start one with: callscribe local up")


def test_a_second_stack_and_a_port_in_use_are_refused_in_one_line(
    stale_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(capsys, "local", "up")
    assert code == ExitCode.STACK_STATE
    assert lines[0].startswith(f"a local stack is already running (pid {os.getpid()}")
    stale_state.unlink()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = _run(capsys, "local", "up", "--api-port", str(port))
    assert (code, lines) == (
        ExitCode.PART_FAILED,
        [f"--api-port {port} is in use: choose another port, or 0 (the default) for a free one"],
    )


def test_a_bug_is_one_line_and_debug_shows_its_traceback(
    no_stack: Path, stale_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = json.loads(stale_state.read_text())
    state["names"]["colour"] = "blue"  # a state file from another version: not a LocalNames
    stale_state.write_text(json.dumps(state))
    code, lines = _run(capsys, "export")
    assert code == ExitCode.BUG
    assert len(lines) == 1
    assert lines[0].startswith("unexpected error: TypeError: ")
    assert lines[0].endswith("(run again with --debug (or CALLSCRIBE_DEBUG=1) for the traceback)")

    assert cli.main(["export", "--debug"]) == ExitCode.BUG
    captured = capsys.readouterr()
    assert "Traceback (most recent call last)" in captured.err
    assert len([line for line in captured.out.splitlines() if line.strip()]) == 1


def test_the_installed_command_prints_no_traceback(tmp_path: Path, stale_state: Path) -> None:
    """The same module the `callscribe` script runs, in its own process: one line on stdout, nothing
    on stderr, the kind's exit code."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CALLSCRIBE_LOCAL_STATE": str(stale_state),
        "COLUMNS": "300",
    }
    done = subprocess.run(
        [sys.executable, "-m", "callscribe_local.cli", "export"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == ExitCode.STACK_STATE, done
    assert done.stderr == ""
    assert len(done.stdout.strip().splitlines()) == 1, done.stdout
    assert "does not answer" in done.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["call"],
         "callscribe call: the following arguments are required: audio (see callscribe call --help)"),
        (["call", "a.wav", "--speed", "0"],
         "callscribe call: argument --speed: '0': needs a number above 0 (see callscribe call --help)"),
        (["local"],
         "callscribe local: the following arguments are required: up (see callscribe local --help)"),
        (["backfill-evaluations", "--max-usd", "-1"], "--max-usd must be a number of dollars, 0 or more"),
        (["backfill-evaluations", "--max-usd", "1", "--since", "1", "--until", "3"],
         "--since must be at least --until (both are days before today)"),
    ],
)  # fmt: skip
def test_options_argparse_or_a_command_refuses_are_one_line(
    args: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse's refusals end the process, as for the installed command
        code = int(exit_.code or 0)
    assert code == ExitCode.USAGE
    assert [said for said in capsys.readouterr().out.splitlines() if said.strip()] == [line]
