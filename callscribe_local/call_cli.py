"""`callscribe call AUDIO [AUDIO2]` (and the demo's call): place a simulated call and report it only
once its record is final.

The call goes to the stack `callscribe local up` started, or to a private one that lives as long
as the command. Either way the same things are shown (progress.py): the phone's steps, a bar while
both tracks stream (seconds and live segments stored so far), then each stage of the record as it
happens until it settles (settlement.py): the summary at its final version, the recording
reconciled or known not to be, the cost with every part priced. A private stack is torn down only
then. The wait is bounded (`--timeout`, by default growing with the call's length); running out of
it is one line naming what was still pending, and exit status 1.
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from callscribe_local.cli_errors import CliError, ExitCode
from callscribe_local.dead_letters import DeadLetterWatch
from callscribe_local.phone import (
    CallResult,
    Conversation,
    PhoneError,
    SimulatedPhone,
    StreamHook,
    load_audio,
    load_tracks,
)
from callscribe_local.progress import ConsoleSteps, Followed, default_timeout, follow, stream_call

if TYPE_CHECKING:
    from callscribe_local.cli import StackState
    from callscribe_local.stack import LocalStack

OUTAGE_REPLAY_BUFFER_SECONDS = 1.0  # a private stack's streamer, when --deepgram-outage is given


@dataclass(frozen=True)
class CallTarget:
    """A running stack as the phone and the follower need it (its own process or another)."""

    api: str
    twilio: str | None
    account_sid: str
    auth_token: str
    log_dir: str
    console: ConsoleSignIn | None = None  # the stack's web console, where the call can be watched

    @classmethod
    def of_stack(cls, stack: LocalStack) -> CallTarget:
        assert stack.urls is not None, "the stack is not running"
        urls = stack.urls
        people = stack.people
        console = ConsoleSignIn(people.console.url, people.user, people.password) if people else None
        return cls(urls.api, urls.twilio or None, stack.account_sid, stack.auth_token, urls.log_dir, console)

    @classmethod
    def of_state(cls, state: StackState) -> CallTarget:
        console = (
            ConsoleSignIn(state.console, state.console_user, state.console_password)
            if state.console
            else None
        )
        return cls(
            state.api, state.twilio or None, state.account_sid, state.auth_token, state.log_dir, console
        )


@dataclass(frozen=True)
class ConsoleSignIn:
    """The local web console and the person the stack created for it."""

    url: str
    user: str
    password: str

    def lines(self, call_sid: str) -> list[str]:
        """Where to watch `call_sid` live (its page follows the call), and who to sign in as."""
        return [
            f"  [bold]Watch it live[/]  {self.url}/#/calls/{call_sid}   (while the stack runs)",
            f"  [bold]Console[/]        {self.url}   sign in as {self.user}, password {self.password}",
        ]


@dataclass(frozen=True)
class PlacedCall:
    result: CallResult
    followed: Followed

    @property
    def call_sid(self) -> str:
        return self.result.call_sid

    @property
    def record(self) -> dict[str, Any] | None:
        return self.followed.record


def place_and_follow(
    target: CallTarget,
    conversation: Conversation,
    steps: ConsoleSteps,
    *,
    speed: float = 1.0,
    out_of_order: bool = False,
    stream_hooks: tuple[StreamHook, ...] = (),
    timeout: float | None = None,
    on_record: Any = None,
) -> PlacedCall:
    """The call, shown as it streams, then followed until its record settles (or `timeout`)."""
    phone = SimulatedPhone(
        target.api,
        target.auth_token,
        target.account_sid,
        speed=speed,
        out_of_order=out_of_order,
        observer=steps,
        twilio_api_url=target.twilio,
        stream_hooks=stream_hooks,
    )
    call_sid = "CA" + uuid.uuid4().hex  # known before the call starts: its console page can be printed
    if target.console is not None:
        for line in target.console.lines(call_sid):
            steps.console.print(line, highlight=False, soft_wrap=True)
    result = stream_call(phone, conversation, steps, target.api, call_sid)
    followed = follow(
        target.api,
        call_sid,
        steps,
        timeout=default_timeout(conversation.seconds) if timeout is None else timeout,
        gave_up=DeadLetterWatch(call_sid),
        no_recording=result.recording is None,  # the simulated Twilio recorded nothing
        on_record=on_record,
    )
    return PlacedCall(result, followed)


def read_conversation(paths: list[str]) -> Conversation:
    """The caller's (and the callee's) audio from the command line; CliError for what cannot be."""
    if len(paths) > 2:
        raise CliError("give one or two files (caller, callee), or talk to the agent: --to agent AUDIO…")
    first = Path(paths[0])
    try:
        inbound, outbound = load_tracks(first)
        if len(paths) > 1:
            if outbound is not None:
                raise CliError(f"{first} is stereo (both tracks already): give no second file")
            outbound = load_audio(Path(paths[1]))
    except PhoneError as exc:
        raise CliError(str(exc)) from exc
    if not inbound:
        raise CliError(f"{first}: no audio in it (0 samples)")
    return Conversation.from_audio(inbound, outbound)


def parse_window(text: str) -> tuple[float, float]:
    """`START:END` in seconds of the call (its stream clock), e.g. `5:12.5`."""
    start_text, sep, end_text = text.partition(":")
    if not sep:
        raise ValueError(f"{text!r}: give START:END in seconds")
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        raise ValueError(f"{text!r}: START and END are seconds, e.g. 5:12.5") from None
    if not 0 <= start < end:
        raise ValueError(f"{text!r}: needs 0 <= START < END")
    return start, end


def cmd_plain_call(args: argparse.Namespace, console: Console) -> int:
    """`callscribe call AUDIO [AUDIO2]`."""
    from callscribe_local.cli import read_state

    try:
        windows = [parse_window(text) for text in args.deepgram_outage or []]
    except ValueError as exc:
        raise CliError(f"--deepgram-outage {exc}") from exc
    conversation = read_conversation(args.audio)
    state = read_state()
    if state is None:
        return _on_private_stack(args, conversation, windows, console)
    if args.replay_buffer_seconds is not None:
        raise CliError(
            "--replay-buffer-seconds sets a private stack's streamer only; the running stack keeps the one "
            "it was started with: restart it with callscribe local up --replay-buffer-seconds "
            f"{args.replay_buffer_seconds:g}, or stop it to get a private stack"
        )
    return _on_running_stack(args, conversation, windows, state, console)


def _on_private_stack(
    args: argparse.Namespace, conversation: Conversation, windows: list[tuple[float, float]], console: Console
) -> int:
    from callscribe_local.stack import LocalStack, StackOptions

    console.print("[dim]No running stack (callscribe local up): starting a private one for this call.[/]")
    replay = args.replay_buffer_seconds
    if windows and replay is None:
        replay = OUTAGE_REPLAY_BUFFER_SECONDS
        console.print(
            f"[dim]Deepgram outage: the streamer replays at most {replay:g} s after reconnecting "
            "(REPLAY_BUFFER_SECONDS), so the outage leaves a gap in the live transcript.[/]"
        )
    options = StackOptions.from_environment(capture_stdout=True, replay_buffer_seconds=replay)
    steps = ConsoleSteps(console)
    with LocalStack(options, observer=steps) as stack:
        hooks = stack.deepgram_outage_hooks(windows) if windows else ()
        placed = place_and_follow(
            CallTarget.of_stack(stack),
            conversation,
            steps,
            speed=args.speed,
            out_of_order=args.out_of_order,
            stream_hooks=hooks,
            timeout=args.timeout,
        )
    return _report(args, placed, console, log_dir=str(stack.log_dir), running=False)


def _on_running_stack(
    args: argparse.Namespace,
    conversation: Conversation,
    windows: list[tuple[float, float]],
    state: StackState,
    console: Console,
) -> int:
    from callscribe_local.stack import LOCAL_DEEPGRAM_KEY, outage_hooks

    hooks: tuple[StreamHook, ...] = ()
    if windows:
        if not state.deepgram.startswith("ws://127.0.0.1"):
            raise CliError(
                f"the running stack uses {state.deepgram}: only the local stand-in can have an outage",
                ExitCode.USAGE,
            )
        hooks = outage_hooks(state.deepgram, LOCAL_DEEPGRAM_KEY, windows)
        console.print(
            "[dim]Deepgram outage: a gap shows in the live transcript only where the outage outlasts the "
            "running stack's replay buffer (callscribe local up --replay-buffer-seconds; default 30 s).[/]"
        )
    from callscribe_local.cli import point_at

    point_at(state)  # its DLQs are read to learn of deliveries that gave up
    console.print(
        f"[bold]Calling the running stack[/] at {state.api} ({conversation.seconds:.1f} s of audio)"
    )
    placed = place_and_follow(
        CallTarget.of_state(state),
        conversation,
        ConsoleSteps(console),
        speed=args.speed,
        out_of_order=args.out_of_order,
        stream_hooks=hooks,
        timeout=args.timeout,
    )
    return _report(args, placed, console, log_dir=state.log_dir, running=True)


def _report(
    args: argparse.Namespace, placed: PlacedCall, console: Console, *, log_dir: str, running: bool
) -> int:
    import json

    from callscribe_local.demo import render_record

    record, settled = placed.record, placed.followed.settlement
    if record is None:
        raise CliError(f"no record for {placed.call_sid} (logs: {log_dir})", ExitCode.PART_FAILED)
    render_record(record, console)
    if running:
        console.print(f"callscribe show {placed.call_sid}")
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
    if not settled.settled:
        later = f"callscribe show {placed.call_sid} later; " if running else "the private stack is gone; "
        console.print(f"[red]{placed.followed.pending_line()}[/] ({later}logs: {log_dir})", highlight=False)
        return ExitCode.INCOMPLETE
    if settled.problems:
        console.print(f"[red]{'; '.join(settled.problems)}[/] (logs: {log_dir})", highlight=False)
        return ExitCode.INCOMPLETE
    return ExitCode.OK
