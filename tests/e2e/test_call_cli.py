"""`callscribe call` as a newcomer meets it, through the CLI's own entry point (`main`, or the module the
installed command runs, in its own process): it reports a call only once its record is final, shows
what a call is doing while it streams and each stage after it, reconciles a short call while a long
one is still being transcribed, and fails in one plain line.

The module's stack is "running" for the CLI as `callscribe local up` leaves one (its state file). Its
Deepgram stand-in hears through a phrase book (live and pre-recorded alike), with twists the tests
need: live never hears `MISSED` (so the recording fills it in and the summary is rewritten), and a
pre-recorded transcription waits until the test releases it when it is longer than `LONG_SECONDS`
(a slow recogniser, standing in for a 10-minute recording without 10 minutes of audio) or holds
`MISSED` (so the first summary is surely written before the reconciliation). Calls run at 4x real
time. One test runs the CLI with no stack running, so it starts a private one (pocketsphinx).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callscribe_local import cli
from callscribe_local.aws_local import LocalNames
from callscribe_local.cli_errors import ExitCode
from callscribe_local.phone import bundled_conversation
from callscribe_local.recognizer import Hypothesis, RecognizerFactory
from callscribe_local.settlement import settlement
from callscribe_local.stack import LocalStack, StackOptions
from tests.support.phrase_recognizer import PhraseBook, PhraseRecognizer
from tests.support.scripted_recognizer import SILENCE

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
HELLO = "hello i would like to move my delivery"
MISSED = "to friday afternoon please"  # live never hears it; the recording does
THANKS = "thank you goodbye"
BOOK = PhraseBook(HELLO, MISSED, THANKS)
LONG_SECONDS = 6.0
SPEED = "4"
GATE_SECONDS = 240.0  # a transcription waits at most this for the test to release it


class Gate:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.released = threading.Event()

    def hold(self) -> None:
        self.started.set()
        if not self.released.wait(GATE_SECONDS):
            raise RuntimeError("the test never released the transcription")


class HeldRecordings:
    """The phrase book for the Deepgram stand-in, live and pre-recorded, where live is deaf to MISSED
    and a pre-recorded request holding MISSED, or longer than LONG_SECONDS, waits for its gate."""

    def __init__(self) -> None:
        self.long = Gate()
        self.missed = Gate()
        self.deaf = bytes([BOOK.audio_for([MISSED])[0]])

    def factory(self) -> RecognizerFactory:
        return lambda params: _Recognizer(self)

    def release(self) -> None:
        self.long.released.set()
        self.missed.released.set()


class _Recognizer:
    def __init__(self, gates: HeldRecordings) -> None:
        self._gates = gates
        self._inner = PhraseRecognizer(BOOK)

    def accept(self, mulaw: bytes) -> list[Hypothesis]:  # live
        return self._inner.accept(mulaw.replace(self._gates.deaf, bytes([SILENCE])))

    def finalize(self) -> list[Hypothesis]:
        return self._inner.finalize()

    def transcribe(self, mulaw: bytes) -> list[Hypothesis]:  # pre-recorded
        if len(mulaw) > LONG_SECONDS * 8000:
            self._gates.long.hold()
        elif self._gates.deaf in mulaw:
            self._gates.missed.hold()
        hypotheses: list[Hypothesis] = []
        for offset in range(0, len(mulaw), 160):
            hypotheses += self._inner.accept(mulaw[offset : offset + 160])
        return hypotheses + self._inner.finalize()


GATES = HeldRecordings()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"cli-calls-{suffix}",
        transcripts_table=f"cli-transcripts-{suffix}",
        idempotency_table=f"cli-idempotency-{suffix}",
        event_bus_name=f"cli-bus-{suffix}",
    )
    options = StackOptions(
        names=names, deepgram_api_key=None, anthropic_api_key=None, recognizer_factory=GATES.factory()
    )
    try:
        with LocalStack(options) as running:
            yield running
    finally:
        GATES.release()


@pytest.fixture
def state(stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI finds the stack as `callscribe local up` leaves it; wide lines keep stages whole."""
    path = tmp_path / "state.json"
    cli.StackState.of(stack).save(path)
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(path))
    monkeypatch.setenv("COLUMNS", "300")
    return path


def _audio(tmp_path: Path, name: str, blocks: list[str | None]) -> str:
    path = tmp_path / f"{name}.ulaw"
    path.write_bytes(BOOK.audio_for(blocks))
    return str(path)


def _record_printed(out: str) -> dict[str, Any]:
    """The record `--json` prints last (the in-process Lambdas print their metrics to this stdout)."""
    record: dict[str, Any] = json.loads(out[out.rindex('{\n  "callSid"') :])
    return record


def _stages(out: str) -> list[tuple[str, str]]:
    """The `  ✓ name  detail` lines, in order."""
    return re.findall(r"^\s+✓ (\S+(?: \S+)?)\s{2,}(.*?)\s*$", out, flags=re.M)


def _last_summary_after_reconciled(out: str) -> bool:
    names = [name for name, _ in _stages(out)]
    last_summary = len(names) - 1 - names[::-1].index("summary")
    return last_summary > names.index("reconciled")


def _last_line(capsys: pytest.CaptureFixture[str]) -> str:
    """What the CLI said last (the in-process Lambdas' metrics may come before it)."""
    return capsys.readouterr().out.strip().splitlines()[-1]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "callscribe_local.cli", *args]


def _env(state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CALLSCRIBE_LOCAL_STATE": str(state),
        "COLUMNS": "300",
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
    }


def test_the_call_is_reported_once_its_record_is_final(
    stack: LocalStack, state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Live misses a phrase, the recording fills it in, the summary is rewritten: `call` reports the
    rewritten summary, the reconciliation and the whole cost, as `show` gives them afterwards."""
    audio = _audio(tmp_path, "missed", [HELLO, None, MISSED, None, THANKS, None, None])
    summaries = len([d for d in stack.deliveries if d.ok])

    def reconcile_once_summarised() -> None:
        """The recording is transcribed only once the first summary (of live alone) is stored."""
        if GATES.missed.started.wait(60):
            deadline = time.monotonic() + 60
            while len([d for d in stack.deliveries if d.ok]) == summaries and time.monotonic() < deadline:
                time.sleep(0.05)
        GATES.missed.released.set()

    threading.Thread(target=reconcile_once_summarised, daemon=True).start()
    code = cli.main(["call", audio, "--speed", SPEED, "--json"])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    printed = _record_printed(out)
    assert settlement(printed).complete
    assert printed["transcriptSource"] == "live+recording"
    filled = [s["text"].lower().rstrip(".") for s in printed["transcript"] if s["source"] == "recording"]
    assert filled == [MISSED]  # punctuated by the pre-recorded API
    assert printed["summary"]["transcript_version"] == printed["transcriptVersion"]
    assert printed["cost"]["deepgramPrerecordedUsd"] is not None

    # the summary told last is the one written after the reconciliation (the first one, of live
    # alone, is told too when a poll of the record fell between the two)
    assert _last_summary_after_reconciled(out)
    assert "source: live+recording" in out
    assert "pre-recorded $" in out
    # nothing changed after it was reported: what `show` reads now is what `call` printed
    assert stack.get_call_json(printed["callSid"]) == printed


def test_a_short_calls_reconciliation_does_not_wait_behind_a_long_one(
    stack: LocalStack, state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A long call's recording is still being transcribed (the slow recogniser holds it) when a short
    call is placed: the short one is reconciled and reported meanwhile. The long call, its own
    `callscribe` process, shows its progress while it streams and each stage after it."""
    long_audio = _audio(tmp_path, "long", [HELLO, None, None, THANKS, None, None] * 4)  # 12 s
    short_audio = _audio(tmp_path, "short", [HELLO, None, None])
    output = tmp_path / "long.out"
    with output.open("w") as sink:
        long_call = subprocess.Popen(
            _command("call", long_audio, "--speed", SPEED, "--timeout", "200"),
            stdout=sink, stderr=subprocess.STDOUT, env=_env(state), cwd=REPO,
        )  # fmt: skip
    try:
        assert GATES.long.started.wait(120), output.read_text()
        code = cli.main(["call", short_audio, "--speed", SPEED, "--timeout", "90", "--json"])
        out = capsys.readouterr().out
        assert code == ExitCode.OK, out
        short = _record_printed(out)
        assert settlement(short).complete
        assert short["transcriptSource"] == "live"
        # ... while the long recording was still being transcribed
        assert long_call.poll() is None, output.read_text()
        assert not GATES.long.released.is_set()
    finally:
        GATES.long.released.set()
    assert long_call.wait(240) == ExitCode.OK, output.read_text()

    said = output.read_text()
    assert "Traceback" not in said
    bar = next(line for line in said.splitlines() if "streaming both tracks" in line)
    streamed, total, segments = re.search(
        r"([\d.]+) / ([\d.]+) s of audio\s+(\d+) segments stored", bar
    ).groups()  # type: ignore[union-attr]
    assert float(streamed) == float(total) > 12
    assert int(segments) > 0
    stages = [name for name, _ in _stages(said)]
    order = [stages.index(name) for name in ("transcript", "recorded", "reconciling", "reconciled")]
    assert order == sorted(order), stages
    assert stages.index("summary") < stages.index("reconciled")  # summarised while reconciling
    assert stages[-1] == "cost"
    assert "source: live" in said
    assert "pre-recorded $" in said


def test_what_a_running_stack_cannot_do_is_one_line(
    stack: LocalStack, state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "CA" + "f" * 32
    assert cli.main(["show", unknown]) == ExitCode.NOT_FOUND
    assert _last_line(capsys) == (
        f"no call {unknown} on the local stack (a stack forgets its calls when it stops)"
    )
    audio = _audio(tmp_path, "short", [HELLO, None])
    assert cli.main(["call", audio, "--replay-buffer-seconds", "1"]) == ExitCode.USAGE
    assert _last_line(capsys) == (
        "--replay-buffer-seconds sets a private stack's streamer only; the running stack keeps the one it "
        "was started with: restart it with callscribe local up --replay-buffer-seconds 1, or stop it to get "
        "a private stack"
    )
    assert cli.main(["query", "cost-per-day", "--bucket", f"nothing-{uuid.uuid4().hex[:6]}"]) == (
        ExitCode.NOT_FOUND
    )
    assert _last_line(capsys).endswith("on the local stack yet: run callscribe export first")


def test_ctrl_c_mid_call_stops_in_one_line(stack: LocalStack, state: Path, tmp_path: Path) -> None:
    audio = _audio(tmp_path, "ctrl-c", [HELLO, None] * 15)  # 15 s, real time
    output = tmp_path / "ctrl-c.out"
    with output.open("w") as sink:
        call = subprocess.Popen(
            _command("call", audio), stdout=sink, stderr=subprocess.STDOUT, env=_env(state), cwd=REPO
        )
    try:
        deadline = time.monotonic() + 60
        while "✓ stream" not in output.read_text(encoding="utf-8"):
            assert call.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        call.send_signal(signal.SIGINT)
        assert call.wait(30) == ExitCode.INTERRUPTED
    finally:
        if call.poll() is None:
            call.kill()
    said = output.read_text(encoding="utf-8")
    assert "Traceback" not in said
    assert said.strip().splitlines()[-1] == "interrupted (Ctrl-C): stopped"


def test_a_private_stack_stays_up_until_the_rewritten_summary(tmp_path: Path) -> None:
    """No stack running: `call --deepgram-outage` starts one for the call (the streamer's replay
    buffer 1 s) and tears it down only once the record has settled: the callee's turn lost live is
    filled from the recording and the summary rewritten, both reported (pocketsphinx hears the
    bundled call's first three turns, live and from the recording; the outage as in test_outage)."""
    clip = bundled_conversation().clip(15.7)
    caller, callee = tmp_path / "caller.ulaw", tmp_path / "callee.ulaw"
    caller.write_bytes(clip.inbound)
    callee.write_bytes(clip.outbound)
    command = ["call", str(caller), str(callee), "--deepgram-outage", "10.5:14.7", "--speed", "2", "--json"]
    done = subprocess.run(
        _command(*command),
        capture_output=True, text=True, env=_env(tmp_path / "none.json"), cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "starting a private one" in done.stdout
    printed = _record_printed(done.stdout)
    assert settlement(printed).complete
    assert printed["transcriptSource"] == "live+recording"
    assert printed["summary"]["transcript_version"] == printed["transcriptVersion"]
    assert printed["cost"]["deepgramPrerecordedUsd"] is not None
    # the summary told last is the one written after the reconciliation: its rewrite (or, when the
    # recording was reconciled first on a slow machine, the first summary, already of it)
    assert _last_summary_after_reconciled(done.stdout)
