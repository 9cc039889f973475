"""What a local call is doing, shown as it happens, for the CLI, the demo and the agent conversation.

While the phone streams: a bar with the seconds streamed and the live segments stored so far. After
the call, until the record settles (`settlement.py`): each stage once, as the record shows it, and a
spinner naming what is still pending; the wait is bounded, and running out says what was pending.
Must keep: everything read from the record the API serves (`GET /calls/{callSid}`, polled) and the
local DLQs, never from the stack's in-process objects, so a private stack and one in another process
(`callscribe local up`) show the same lines. The stages: docs/local.md, "The `callscribe` command".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from callscribe_local.calls_client import get_call
from callscribe_local.phone import CallResult, Conversation, SimulatedPhone
from callscribe_local.settlement import FINAL_TRANSCRIPT, Settlement, settlement

POLL_SECONDS = 0.5
SEGMENT_POLL_SECONDS = 1.0
# Local patience after the call: the recording is transcribed whole by pocketsphinx after the call
# (measured ~2.4x faster than real time for a 10-minute call's two channels on a busy core), so the
# default grows with the call.
BASE_TIMEOUT_SECONDS = 120.0
TIMEOUT_PER_CALL_SECOND = 0.5


def default_timeout(call_seconds: float) -> float:
    """How long to wait, after the call ends, for its record to settle."""
    return BASE_TIMEOUT_SECONDS + TIMEOUT_PER_CALL_SECOND * call_seconds


class ConsoleSteps:
    """Stack and phone progress as lines on the terminal, and a bar while audio streams."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def step(self, name: str, detail: str) -> None:
        target = self.progress.console if self.progress is not None else self.console
        target.print(f"  [green]✓[/] [bold]{name:<18}[/] {detail}", highlight=False)

    def streamed(self, seconds: float, total: float) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=seconds, total=total)

    def stored(self, segments: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, segments=segments)


def stream_call(
    phone: SimulatedPhone,
    conversation: Conversation,
    steps: ConsoleSteps,
    api: str,
    call_sid: str,
) -> CallResult:
    """Place the call, with the bar (seconds streamed of the total, live segments stored so far)."""
    with Progress(
        TextColumn("  [cyan]streaming both tracks[/]"),
        BarColumn(),
        TextColumn("{task.completed:5.1f} / {task.total:4.1f} s of audio"),
        TextColumn("{task.fields[segments]} segments stored"),
        TimeElapsedColumn(),
        console=steps.console,
        transient=False,
    ) as progress:
        steps.progress = progress
        steps.task = progress.add_task("stream", total=conversation.seconds, segments=0)
        try:
            return asyncio.run(_call_counting_segments(phone, conversation, steps, api, call_sid))
        finally:
            steps.progress = None


async def _call_counting_segments(
    phone: SimulatedPhone, conversation: Conversation, steps: ConsoleSteps, api: str, call_sid: str
) -> CallResult:
    call = asyncio.create_task(phone.call(conversation, call_sid), name="phone-call")
    while not call.done():
        await asyncio.wait({call}, timeout=SEGMENT_POLL_SECONDS)
        with contextlib.suppress(httpx.HTTPError):  # a count missed now is read on the next poll
            record = await asyncio.to_thread(get_call, api, call_sid)
            if record is not None:
                steps.stored(len(record.get("transcript") or []))
    return call.result()


# -- after the call -------------------------------------------------------------------------------


def _seconds(value: Any) -> str:
    return "?" if value is None else f"{float(value):g}"


def _priced_parts(cost: Mapping[str, Any]) -> str:
    names = (
        ("twilioVoiceUsd", "voice"),
        ("twilioRecordingUsd", "recording"),
        ("deepgramLiveUsd", "live STT"),
        ("deepgramPrerecordedUsd", "recording STT"),
        ("claudeUsd", "summary"),
        ("ttsUsd", "TTS"),
    )
    return ", ".join(label for key, label in names if cost.get(key) is not None)


@dataclass
class StageTracker:
    """The stages a record has reached since the last look: each one once, in pipeline order."""

    _transcript: str | None = None
    _recording: tuple[str, str | None] | None = None
    _reconciling: bool = False
    _source: str | None = None
    _summary: tuple[Any, ...] | None = None
    _summary_failed: bool = False
    _cost: Any = None
    _gave_up: set[str] = field(default_factory=set)

    def update(
        self, record: Mapping[str, Any] | None, gave_up: Mapping[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """(stage, detail) for each stage `record` shows that an earlier one did not."""
        if record is None:
            return []
        stages: list[tuple[str, str]] = []
        transcript = record.get("transcriptStatus")
        segments = record.get("transcript") or []
        if transcript != self._transcript and transcript in FINAL_TRANSCRIPT:
            live = sum(1 for s in segments if s.get("source", "live") == "live")
            stages.append(("transcript", f"{transcript}: {live} live segments"))
        self._transcript = transcript

        recording = record.get("recording")
        source = record.get("transcriptSource")
        if recording is not None:
            seen = (str(recording.get("sid")), recording.get("status"))
            if seen != self._recording:
                self._recording = seen
                stages.append(
                    (
                        "recorded",
                        f"{seen[0]} {seen[1]}: {_seconds(recording.get('durationSeconds'))} s, "
                        f"{_seconds(recording.get('channels'))} channel(s)",
                    )
                )
            if seen[1] == "completed" and source is None and not self._reconciling:
                self._reconciling = True
                stages.append(
                    (
                        "reconciling",
                        f"transcribing the recording ({_seconds(recording.get('durationSeconds'))} s x "
                        f"{_seconds(recording.get('channels'))} channel(s)) to fill in what live missed",
                    )
                )
        if source is not None and source != self._source:
            stages.append(("reconciled", _reconciled(record)))
        self._source = source

        summary = record.get("summary")
        if summary is not None:
            key = (summary.get("transcript_version"), summary.get("created_at"), summary.get("summary"))
            if key != self._summary:
                verb = "created" if self._summary is None else "rewritten from the reconciled transcript"
                stages.append(("summary", f"{verb} ({summary.get('model', '?')})"))
                self._summary = key
        elif record.get("summaryStatus") == "failed" and not self._summary_failed:
            self._summary_failed = True
            stages.append(("summary", "[red]failed: the model refused it[/]"))

        cost = record.get("cost") or {}
        total = cost.get("totalUsd")
        if total is not None and total != self._cost:
            self._cost = total
            stages.append(("cost", f"${float(total):.4f} so far ({_priced_parts(cost)})"))

        for tier, error in (gave_up or {}).items():
            if tier not in self._gave_up:
                self._gave_up.add(tier)
                stages.append(
                    ("gave up", f"[red]the {tier} Lambda gave up after its retries: {error}[/] (local DLQ)")
                )
        return stages


def _reconciled(record: Mapping[str, Any]) -> str:
    source = record.get("transcriptSource")
    coverage = record.get("liveCoverage")
    shown = "n/a" if coverage is None else f"{float(coverage):.0%}"
    if record.get("recording") is None:
        return f"{source} only (no recording)"
    added = [s for s in record.get("transcript") or [] if s.get("source") == "recording"]
    gaps = record.get("gaps") or []
    if not added and not gaps:
        return f"{source}, live coverage {shown}: the recording added nothing"
    where = ", ".join(f"{g['track']} {float(g['start']):.1f}-{float(g['end']):.1f} s" for g in gaps)
    return f"{source}, live coverage {shown}: {len(added)} segment(s) added from the recording ({where})"


@dataclass(frozen=True)
class Followed:
    """The record as last read, what it still waited for then, and how long the wait took."""

    record: dict[str, Any] | None
    settlement: Settlement
    waited_seconds: float

    def pending_line(self) -> str:
        return f"still pending after {self.waited_seconds:.0f} s: {'; '.join(self.settlement.pending)}"


GaveUp = Callable[[], Mapping[str, str]]


def follow(
    api: str,
    call_sid: str,
    steps: ConsoleSteps,
    *,
    timeout: float,
    gave_up: GaveUp | None = None,
    no_recording: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> Followed:
    """Poll the record until it settles (or `timeout`), printing each stage as it happens."""
    tracker = StageTracker()
    started = time.monotonic()
    record: dict[str, Any] | None = None
    outcome = settlement(None)
    with steps.console.status("  waiting…") as spinner:
        while True:
            record = get_call(api, call_sid)
            if record is not None and on_record is not None:
                on_record(record)
            dead: Mapping[str, str] = {}
            outcome = settlement(record, no_recording=no_recording)
            if not outcome.settled and gave_up is not None:
                dead = gave_up()
                outcome = settlement(record, gave_up=dead, no_recording=no_recording)
            for name, detail in tracker.update(record, dead):
                steps.step(name, detail)
            waited = time.monotonic() - started
            if outcome.settled or waited >= timeout:
                return Followed(record, outcome, waited)
            spinner.update(f"  waiting for {'; '.join(outcome.pending)} ({waited:.0f} s)")
            time.sleep(poll_seconds)
