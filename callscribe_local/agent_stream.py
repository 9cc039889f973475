"""The simulated phone's side of an agent call: a bidirectional `<Connect><Stream>`, as Twilio runs it.

The caller's track only, every 20 ms of the call; the streamer's audio played back through
`playout.Playout` (marks echoed once played, `clear` honoured); the caller speaking from a script of
turns (after the agent's last mark and a pause, after a timeout, or `interrupt_after_seconds` into a
reply: a barge-in). The call ends as the agent's REST update says (`call_control.TwilioControl`),
when the streamer closes the socket, or when the caller, out of turns, hangs up after a quiet while.
Must keep: everything on the call's clock (`speed` times real time), and what the caller heard kept
as a track aligned with what they said (`AgentCallResult.outbound`). docs/local.md, "The simulated
phone" and "Talking to the agent", say how it behaves.
Over 350 lines: sending, playback, turn-taking and the REST follower run together on one clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from callscribe_local.call_control import TwilioControl, dialled_number
from callscribe_local.playout import BYTES_PER_SECOND, Playout

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_SECONDS = FRAME_BYTES / BYTES_PER_SECOND
SILENCE = b"\xff" * FRAME_BYTES
MIN_QUIET_WALL_SECONDS = 0.3  # however fast the call runs, the agent gets this long between sentences


@dataclass(frozen=True)
class CallerTurn:
    """One thing the caller says: 8 kHz mu-law audio, and a label (the file it came from)."""

    audio: bytes
    label: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / BYTES_PER_SECOND


@dataclass(frozen=True)
class TurnTaking:
    """When the caller speaks, in seconds of the call."""

    pause_seconds: float = 0.6  # after the agent's last mark came back
    reply_timeout_seconds: float = 10.0  # after the caller's own turn (or the answer) with no agent audio
    interrupt_after_seconds: float | None = None  # speak this far into each agent reply (a barge-in)
    hang_up_after_seconds: float = 6.0  # after the last turn: the agent quiet this long, the caller leaves
    max_call_seconds: float = 600.0  # whatever happens, the caller hangs up then

    def __post_init__(self) -> None:
        values = (self.pause_seconds, self.reply_timeout_seconds, self.hang_up_after_seconds)
        if min(values) < 0 or self.max_call_seconds <= 0:
            raise ValueError("turn-taking times must not be negative")
        if self.interrupt_after_seconds is not None and self.interrupt_after_seconds < 0:
            raise ValueError("interrupt_after_seconds must not be negative")


@dataclass(frozen=True)
class AgentScript:
    """The caller's side of a conversation with the agent."""

    turns: tuple[CallerTurn, ...]
    timing: TurnTaking = field(default_factory=TurnTaking)


@dataclass(frozen=True)
class ConversationEvent:
    """Something the caller would notice, at `at` seconds of the call (stream time).

    kinds: `turn` (the caller starts speaking), `agent` (agent audio starts playing), `barge-in`
    (Twilio got `clear`), `hangup` (the agent ended the call through Twilio's REST API), `transfer`
    (it moved the call elsewhere), `closed` (the streamer closed the stream), `caller-hangup`."""

    at: float
    kind: str
    detail: str


ConversationObserver = Callable[[ConversationEvent], None]


@dataclass
class AgentCallResult:
    inbound: bytes  # what the caller said, as streamed
    outbound: bytes  # what the caller heard, aligned with `inbound` (silence where the agent was quiet)
    events: list[ConversationEvent]
    marks_played: list[str]  # echoed because playback reached them
    marks_cleared: list[str]  # echoed because a `clear` dropped them
    clears: int
    ending: str  # hangup | transfer | closed | caller-hangup
    transfer_to: str | None = None
    turns_spoken: int = 0

    @property
    def seconds(self) -> float:
        return len(self.inbound) / BYTES_PER_SECOND


class AgentStream:
    """One bidirectional stream: send the caller's turns, play the agent, follow the call's end."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        call_sid: str,
        account_sid: str,
        stream_sid: str,
        script: AgentScript,
        speed: float,
        control: TwilioControl | None,
        observer: ConversationObserver | None = None,
    ) -> None:
        self._ws = ws
        self._call_sid = call_sid
        self._account_sid = account_sid
        self._stream_sid = stream_sid
        self._script = script
        self._timing = script.timing
        self._speed = speed
        self._control = control
        self._observer = observer
        self._playout = Playout()
        self._sequence = 1  # `start` was 1
        self._events: list[ConversationEvent] = []
        self._marks_played: list[str] = []
        self._marks_cleared: list[str] = []
        self._clears = 0
        self._ending: str | None = None
        self._transfer_to: str | None = None
        self._ended = asyncio.Event()
        self._now = 0.0  # call seconds streamed so far
        self._server_closed = False

    # -- the call ---------------------------------------------------------------------------------

    async def run(self) -> AgentCallResult:
        tasks = [asyncio.create_task(self._receive(), name="phone-agent-receive")]
        if self._control is not None:
            tasks.append(asyncio.create_task(self._follow_control(), name="phone-agent-control"))
        try:
            inbound, outbound, spoken = await self._stream()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not self._server_closed:
            with contextlib.suppress(ConnectionClosed):
                await self._send(
                    {"event": "stop", "stop": {"accountSid": self._account_sid, "callSid": self._call_sid}}
                )
                await self._ws.close()
        assert self._ending is not None
        return AgentCallResult(
            inbound,
            outbound,
            self._events,
            self._marks_played,
            self._marks_cleared,
            self._clears,
            self._ending,
            self._transfer_to,
            spoken,
        )

    def _end(self, how: str, detail: str) -> None:
        if self._ending is None:
            self._ending = how
            self._event(how, detail)
            self._ended.set()

    def _event(self, kind: str, detail: str) -> None:
        event = ConversationEvent(round(self._now, 2), kind, detail)
        self._events.append(event)
        if self._observer is not None:
            self._observer(event)

    # -- sending: the caller's track, paced; playback in step with it ---------------------------

    async def _stream(self) -> tuple[bytes, bytes, int]:
        """Send a frame of the caller every 20 ms of call time and play as much of the agent; start
        the caller's turns and their hang-up by `TurnTaking`. Returns both tracks and turns spoken."""
        timing = self._timing
        turns = list(self._script.turns)
        inbound, outbound = bytearray(), bytearray()
        speaking = bytearray()  # the rest of the turn being spoken
        spoken = 0
        last_turn_end = 0.0  # call seconds; the call's start counts as one (the agent greets)
        agent_since: float | None = None  # call seconds at which the agent's current audio began
        answered = False  # the agent has spoken since the caller's last turn ended
        quiet_since, quiet_wall = 0.0, time.monotonic()
        interval = FRAME_SECONDS / self._speed
        started = time.monotonic()
        index = 0
        while not self._ended.is_set():
            delay = started + index * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._now = now = index * FRAME_SECONDS
            if now >= timing.max_call_seconds:
                self._end("caller-hangup", f"the caller hangs up at the {timing.max_call_seconds:g} s limit")
                break
            if not speaking:
                quiet = agent_since is None and time.monotonic() - quiet_wall >= MIN_QUIET_WALL_SECONDS
                quiet_for = now - quiet_since if quiet else 0.0
                waited = now - last_turn_end
                if turns:
                    over = answered and quiet and quiet_for >= timing.pause_seconds
                    barge = (
                        timing.interrupt_after_seconds is not None
                        and answered
                        and agent_since is not None
                        and now - agent_since >= timing.interrupt_after_seconds
                    )
                    silent = not answered and quiet and waited >= timing.reply_timeout_seconds
                    if over or barge or silent:
                        turn = turns.pop(0)
                        spoken += 1
                        speaking.extend(turn.audio)
                        how = (
                            "over the agent"
                            if barge
                            else "the agent said nothing"
                            if silent
                            else "its answer played"
                        )
                        self._event("turn", f"turn {spoken}: {turn.label} ({turn.seconds:.1f} s; {how})")
                elif (answered and quiet and quiet_for >= timing.hang_up_after_seconds) or (
                    not answered
                    and quiet
                    and waited >= timing.reply_timeout_seconds + timing.hang_up_after_seconds
                ):
                    self._end("caller-hangup", "the caller hangs up")
                    break
            in_turn = bool(speaking)
            frame = bytes(speaking[:FRAME_BYTES]).ljust(FRAME_BYTES, SILENCE[:1])
            del speaking[:FRAME_BYTES]
            try:
                await self._media(frame, index)
            except ConnectionClosed:
                self._server_closed = True
                self._end("closed", "the streamer closed the stream (<Connect> ends: the call hangs up)")
                break
            inbound.extend(frame)
            if in_turn and not speaking:  # the turn's last frame is out
                last_turn_end, answered = now + FRAME_SECONDS, False
            played = self._playout.play(FRAME_BYTES)
            outbound.extend(played.audio.ljust(FRAME_BYTES, SILENCE[:1]))
            if played.audio and agent_since is None:
                agent_since = now
                answered = answered or not speaking
                self._event("agent", "the agent speaks")
            for name in played.marks:
                self._marks_played.append(name)
                await self._echo(name)
            if self._playout.idle and agent_since is not None:
                agent_since = None
                quiet_since, quiet_wall = now + FRAME_SECONDS, time.monotonic()
            index += 1
        return bytes(inbound), bytes(outbound), spoken

    async def _media(self, frame: bytes, index: int) -> None:
        await self._send(
            {
                "event": "media",
                "media": {
                    "track": "inbound",
                    "chunk": str(index + 1),
                    "timestamp": str(index * 20),
                    "payload": base64.b64encode(frame).decode("ascii"),
                },
            }
        )

    async def _echo(self, name: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._send({"event": "mark", "mark": {"name": name}})

    async def _send(self, doc: dict[str, Any]) -> None:
        self._sequence += 1
        message = {
            "event": doc["event"],
            "sequenceNumber": str(self._sequence),
            **doc,
            "streamSid": self._stream_sid,
        }
        await self._ws.send(json.dumps(message))

    # -- receiving: what the streamer sends back --------------------------------------------------

    async def _receive(self) -> None:
        try:
            async for raw in self._ws:
                doc = json.loads(raw)
                event = doc.get("event")
                if event == "media":
                    self._playout.media(base64.b64decode(doc["media"]["payload"]))
                elif event == "mark":
                    self._playout.mark(str(doc["mark"]["name"]))
                elif event == "clear":
                    cleared = self._playout.clear()
                    self._clears += 1
                    dropped = cleared.dropped_bytes / BYTES_PER_SECOND
                    self._event(
                        "barge-in",
                        f"Twilio clear: {dropped:.1f} s of agent audio dropped, "
                        f"{len(cleared.marks)} mark(s) echoed unplayed",
                    )
                    for name in cleared.marks:
                        self._marks_cleared.append(name)
                        await self._echo(name)
        except ConnectionClosed:
            pass
        self._server_closed = True
        self._end("closed", "the streamer closed the stream (<Connect> ends: the call hangs up)")

    # -- the call's REST updates ------------------------------------------------------------------

    async def _follow_control(self) -> None:
        assert self._control is not None
        seen = 0
        while True:
            try:
                updates = await self._control.updates(self._call_sid, seen)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            for update in updates:
                seen += 1
                if update.status in ("completed", "canceled"):
                    self._end("hangup", f"the agent hung up (Twilio REST: Status={update.status})")
                elif update.twiml is not None or update.url is not None:
                    number = dialled_number(update.twiml or "")
                    if number is not None:
                        self._transfer_to = number
                        self._end(
                            "transfer", f"the agent transferred the call to {number} (Twilio REST: Twiml)"
                        )
                    else:
                        self._end(
                            "hangup", "the agent replaced the call's TwiML (Twilio REST): the stream stops"
                        )
