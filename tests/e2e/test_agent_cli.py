"""Talking to the agent locally, through the CLI's own entry point (`callscribe call --to agent`).

A module's stack (moto, the streamer subprocess, the Deepgram stand-in hearing through a phrase book,
the offline agent behind the Anthropic stand-in, the Twilio stand-in) is "running" for the CLI as
`callscribe local up` leaves one (its state file). Each caller turn is a `.ulaw` file the phrase
recogniser hears as known words, so the agent's answers are known too. Calls run at 4x real time.
"""

from __future__ import annotations

import re
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from callscribe_local import cli
from callscribe_local.aws_local import BusTap, LocalNames
from callscribe_local.stack import LocalStack, StackOptions
from shared.dal.segments import DynamoSegments
from tests.support.phrase_recognizer import PhraseBook

pytestmark = pytest.mark.e2e

MOVE = "i need to move my delivery"
FRIDAY = "to friday please"
GOODBYE = "thank you goodbye"
BOOK = PhraseBook(MOVE, FRIDAY, GOODBYE)
GREETING = "Hello, thanks for calling. How can I help you today?"
SPEED = "4"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"agent-calls-{suffix}",
        transcripts_table=f"agent-transcripts-{suffix}",
        idempotency_table=f"agent-idempotency-{suffix}",
        event_bus_name=f"agent-bus-{suffix}",
    )
    options = StackOptions(
        names=names, deepgram_api_key=None, anthropic_api_key=None, recognizer_factory=BOOK.factory()
    )
    with LocalStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def tap(stack: LocalStack) -> BusTap:
    """The bus's events from before any call is placed."""
    return BusTap(stack.options.names.event_bus_name)


@pytest.fixture
def running(stack: LocalStack, tap: BusTap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The CLI finds the stack as `callscribe local up` leaves it; wide lines keep phrases whole."""
    state = tmp_path / "state.json"
    cli.StackState.of(stack).save(state)
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(state))
    monkeypatch.setenv("COLUMNS", "400")
    return stack


def _turn(tmp_path: Path, name: str, *phrases: str | None) -> str:
    path = tmp_path / f"{name}.ulaw"
    path.write_bytes(BOOK.audio_for([*phrases, None]))
    return str(path)


def _call_sid(out: str) -> str:
    match = re.search(r"callscribe show (CA[0-9a-f]{32})", out)
    assert match is not None, out
    return match.group(1)


def _conversation(out: str) -> list[str]:
    """The live lines (`  12.3 s  who  text`) as `who: text`, in the order printed."""
    lines = re.findall(r"^\s+\d+\.\d s\s+(caller|agent)\s+(.*?)\s*$", out, flags=re.M)
    return [f"{who}: {text}" for who, text in lines]


def test_a_two_turn_conversation_runs_to_the_agents_goodbye(
    running: LocalStack, tap: BusTap, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _turn(tmp_path, "first", MOVE, FRIDAY)
    second = _turn(tmp_path, "second", GOODBYE)
    heard = tmp_path / "heard.wav"

    code = cli.main(["call", "--to", "agent", first, second, "--speed", SPEED, "--agent-audio", str(heard)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "not simulated" not in out

    said = [line for line in _conversation(out) if "“" in line]
    answer = f'agent: “You said: "{MOVE} {FRIDAY}". I am the offline agent'
    # the recogniser may hear a turn in more than one final: each is printed as it is stored
    order = [
        said.index(f"agent: “{GREETING}”"),
        next(i for i, line in enumerate(said) if line.startswith("caller: ") and MOVE in line),
        next(i for i, line in enumerate(said) if line.startswith(answer)),
        said.index(f"caller: “{GOODBYE}”"),
        said.index("agent: “Thank you for calling. Goodbye!”"),
    ]
    assert order == sorted(order), said
    assert said[order[0] + 1 : order[2]] in (
        [f"caller: “{MOVE} {FRIDAY}”"],
        [f"caller: “{MOVE}”", f"caller: “{FRIDAY}”"],
    )
    events = [line for line in _conversation(out) if "“" not in line]
    assert events[0].startswith("caller: turn 1: first.ulaw")
    assert events[1].startswith("caller: turn 2: second.ulaw")
    assert events[2] == "agent: the agent hung up (Twilio REST: Status=completed)"
    assert "barge-in" not in out

    call_sid = _call_sid(out)
    record = running.get_call_json(call_sid)
    assert record is not None
    assert record["status"] == "completed"
    assert record["transcriptStatus"] == "completed"
    rows = [(s["track"], s["speaker"], s["text"]) for s in record["transcript"]]
    assert " ".join(text for track, speaker, text in rows if (track, speaker) == ("inbound", "caller")) == (
        f"{MOVE} {FRIDAY} {GOODBYE}"
    )
    assert [text for track, speaker, text in rows if (track, speaker) == ("outbound", "agent")] == [
        GREETING,
        answer.removeprefix("agent: “") + ", with no language model, so I can only repeat what I heard. "
        "Is there anything else? Say goodbye to end the call.",
        "Thank you for calling. Goodbye!",
    ]
    stored = DynamoSegments(running.options.names.transcripts_table).list_segments(call_sid)
    assert {s.source for s in stored if s.speaker == "agent"} == {"agent:offline-scripted-agent"}
    published = tap.events_for(call_sid, wait_seconds=5)
    assert "Transcript Completed" in [e["detail-type"] for e in published]

    # every mark the agent sent came back as played; the caller and what they heard, to listen to
    with wave.open(str(heard)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        assert wav.getnframes() / 8000 == pytest.approx(record["durationSeconds"], abs=1.0)


def test_a_barge_in_clears_the_agents_queued_audio(
    running: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _turn(tmp_path, "first", MOVE)
    second = _turn(tmp_path, "second", GOODBYE)
    # the caller speaks 1.5 s into each answer (a barge-in), however long the answer is
    code = cli.main(["call", "--to", "agent", first, second, "--speed", SPEED, "--interrupt-after", "1.5"])
    out = capsys.readouterr().out
    assert code == 0, out
    barge_ins = [line for line in _conversation(out) if "barge-in" in line or "Twilio clear" in line]
    assert barge_ins, out
    assert all("agent audio dropped" in line and "echoed unplayed" in line for line in barge_ins)

    record = running.get_call_json(_call_sid(out))
    assert record is not None
    agent = [s["text"] for s in record["transcript"] if s["speaker"] == "agent"]
    full = (
        f'You said: "{MOVE}". I am the offline agent, with no language model, so I can only repeat what I '
        "heard. Is there anything else? Say goodbye to end the call."
    )
    # the interrupted answer is stored as far as the caller heard it: the rest was never played
    cut = [text for text in agent if text.startswith("You said") and text != full]
    assert cut, agent
    assert full.startswith(cut[0])
    assert agent[-1] == "Thank you for calling. Goodbye!"
    assert record["transcriptStatus"] == "completed"
