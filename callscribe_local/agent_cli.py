"""`callscribe call --to agent AUDIO [AUDIO …]`: a conversation with the voice agent from audio files.

Each file is one caller turn; the simulated phone calls the agent's number (`stack.AGENT_NUMBER`, or
`--to`) on the running stack or a private one, and both sides are printed as they happen, on the
call's clock: the phone's view (turns, barge-ins, the end) and what each side said as the product
stores it (`GET /calls/{callSid}`, polled), then the finished record; `--agent-audio` writes what
the caller said and heard. Options and output: docs/local.md, "Talking to the agent".
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from callscribe_local import g711, wavfile
from callscribe_local.agent_stream import (
    AgentCallResult,
    AgentScript,
    CallerTurn,
    ConversationEvent,
    TurnTaking,
)
from callscribe_local.calls_client import get_call
from callscribe_local.cli_errors import CliError, ExitCode
from callscribe_local.dead_letters import DeadLetterWatch
from callscribe_local.phone import (
    RATE,
    CallerId,
    CallResult,
    Conversation,
    PhoneError,
    SimulatedPhone,
    load_audio,
)

AGENT = "agent"
POLL_SECONDS = 0.5
EVENT_STYLES = {
    "turn": "cyan",
    "agent": "dim magenta",
    "barge-in": "bold yellow",
    "hangup": "bold",
    "transfer": "bold",
    "closed": "bold",
    "caller-hangup": "bold",
}


@dataclass(frozen=True)
class Target:
    """Where the call goes: the API and the Twilio stand-in of a stack, and the number dialled."""

    api: str
    twilio: str | None
    account_sid: str
    auth_token: str
    number: str
    log_dir: str


def agent_script(args: argparse.Namespace) -> AgentScript:
    """The caller's turns from the command line (PhoneError for a file that cannot be one)."""
    turns = []
    for name in args.audio:
        audio = load_audio(Path(name))
        if not audio:
            raise PhoneError(f"{name}: the audio is empty")
        turns.append(CallerTurn(audio, Path(name).name))
    try:
        timing = TurnTaking(
            pause_seconds=args.pause,
            reply_timeout_seconds=args.reply_timeout,
            interrupt_after_seconds=args.interrupt_after,
        )
    except ValueError as exc:
        raise PhoneError(str(exc)) from exc
    return AgentScript(tuple(turns), timing)


def number_to_call(to: str) -> str:
    from callscribe_local.stack import AGENT_NUMBER

    return AGENT_NUMBER if to == AGENT else to


class ConversationPrinter:
    """Prints what the phone notices and what the product stores, in the order it happens, each line
    stamped with the call's clock (seconds since the stream started, at the phone's speed)."""

    def __init__(self, console: Console, speed: float) -> None:
        self.console = console
        self.speed = speed
        self._clock: tuple[float, float] | None = None  # (call seconds, monotonic) of the last event
        self._printed: set[tuple[str, float, str]] = set()

    def now(self) -> float:
        if self._clock is None:
            return 0.0
        at, since = self._clock
        return at + (time.monotonic() - since) * self.speed

    def event(self, event: ConversationEvent) -> None:
        self._clock = (event.at, time.monotonic())
        if event.kind == "agent":
            return  # its words follow once stored; the start alone is noise
        who = "caller" if event.kind in ("turn", "caller-hangup") else "agent"
        style = EVENT_STYLES.get(event.kind, "")
        self._line(event.at, who, f"[{style}]{event.detail}[/]")

    def segments(self, record: dict[str, Any]) -> None:
        for segment in record.get("transcript") or []:
            key = (str(segment.get("track")), float(segment.get("start", 0)), str(segment.get("text")))
            if key in self._printed:
                continue
            self._printed.add(key)
            speaker = segment.get("speaker") or segment.get("track")
            style = "cyan" if segment.get("track") == "inbound" else "magenta"
            self._line(self.now(), str(speaker), f"[{style}]“{segment.get('text', '')}”[/]")

    def _line(self, at: float, who: str, text: str) -> None:
        self.console.print(f"  [dim]{at:6.1f} s[/]  [bold]{who:<7}[/] {text}", highlight=False)


async def converse(
    target: Target, script: AgentScript, printer: ConversationPrinter, *, out_of_order: bool = False
) -> CallResult:
    """Place the call and print both sides until it ends."""
    from callscribe_local.progress import ConsoleSteps

    console, speed = printer.console, printer.speed
    phone = SimulatedPhone(
        target.api,
        target.auth_token,
        target.account_sid,
        caller=CallerId(to_number=target.number),
        speed=speed,
        out_of_order=out_of_order,
        observer=ConsoleSteps(console),
        twilio_api_url=target.twilio,
        conversation_observer=printer.event,
    )
    call_sid = "CA" + uuid.uuid4().hex
    first = Conversation.from_audio(script.turns[0].audio)  # a plain call's caller, should no agent answer
    call = asyncio.create_task(phone.call(first, call_sid, script=script), name="agent-call")
    while not call.done():
        await asyncio.wait({call}, timeout=POLL_SECONDS)
        record = await asyncio.to_thread(get_call, target.api, call_sid)
        if record is not None:
            printer.segments(record)
    result = call.result()
    if result.agent is None:
        console.print(f"[yellow]{target.number} is not routed to the agent: it was a plain call[/]")
    return result


def write_agent_audio(path: Path, agent: AgentCallResult) -> None:
    """What the caller said (left) and heard (right), 16-bit 8 kHz, as Twilio's dual recordings are."""
    channels = [g711.ulaw_to_pcm16(agent.inbound), g711.ulaw_to_pcm16(agent.outbound)]
    path.write_bytes(wavfile.write_wav(channels, RATE))


@contextmanager
def _target(args: argparse.Namespace, console: Console) -> Iterator[Target]:
    from callscribe_local.cli import point_at, read_state
    from callscribe_local.progress import ConsoleSteps
    from callscribe_local.stack import LocalStack, StackOptions

    number = number_to_call(args.to)
    state = read_state()
    if state is not None:
        console.print(f"[bold]Calling {number} on the running stack[/] at {state.api}")
        point_at(state)  # its DLQs are read to learn of deliveries that gave up
        yield Target(
            state.api, state.twilio or None, state.account_sid, state.auth_token, number, state.log_dir
        )
        return
    console.print("[dim]No running stack (callscribe local up): starting a private one for this call.[/]")
    options = StackOptions.from_environment(capture_stdout=True)
    with LocalStack(options, observer=ConsoleSteps(console)) as stack:
        assert stack.urls is not None
        urls = stack.urls
        yield Target(urls.api, urls.twilio or None, stack.account_sid, stack.auth_token, number, urls.log_dir)


def cmd_agent_call(args: argparse.Namespace, console: Console) -> int:
    """`callscribe call --to agent|NUMBER AUDIO [AUDIO …]`."""
    from callscribe_local.cli import read_state
    from callscribe_local.demo import render_record
    from callscribe_local.progress import ConsoleSteps, default_timeout, follow

    try:
        script = agent_script(args)
    except PhoneError as exc:
        raise CliError(str(exc)) from exc
    with _target(args, console) as target:
        printer = ConversationPrinter(console, args.speed)
        result = asyncio.run(converse(target, script, printer, out_of_order=args.out_of_order))
        if args.agent_audio and result.agent is not None:
            write_agent_audio(Path(args.agent_audio), result.agent)
            console.print(f"  the caller (left) and the agent (right): {args.agent_audio}")
        spoken = sum(len(turn.audio) for turn in script.turns) / RATE
        followed = follow(
            target.api,
            result.call_sid,
            ConsoleSteps(console),
            timeout=default_timeout(spoken) if args.timeout is None else args.timeout,
            gave_up=DeadLetterWatch(result.call_sid),
            no_recording=result.recording is None,  # the simulated phone records no agent call
            on_record=printer.segments,
        )
    record = followed.record
    if record is None:
        raise CliError(f"no record for {result.call_sid} (logs: {target.log_dir})", ExitCode.PART_FAILED)
    render_record(record, console)
    if read_state() is not None:
        console.print(f"callscribe show {result.call_sid}")
    if args.json:
        import json

        print(json.dumps(record, indent=2, ensure_ascii=False))
    if not followed.settlement.settled:
        console.print(f"[red]{followed.pending_line()}[/] (logs: {target.log_dir})", highlight=False)
        return ExitCode.INCOMPLETE
    if followed.settlement.problems:
        console.print(f"[red]{'; '.join(followed.settlement.problems)}[/]", highlight=False)
        return ExitCode.INCOMPLETE
    return ExitCode.OK
