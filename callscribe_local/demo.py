"""`make demo` (`python -m callscribe_local.demo`): one phone call through the whole pipeline, offline.

It brings the local stack up, places the bundled two-speaker call as Twilio would, follows the
record and the product's events until the record settles (settlement.py), prints the transcript by
speaker and the summary, tears everything down and ends with the record as JSON, exactly as
`GET /calls/{callSid}` answers it (docs/local.md says what it prints).
Must keep: exit status 0 only for a complete record (settled, nothing failed, call and transcript
completed, summary present), 1 otherwise with the folder of the parts' logs; a failure to run at all
is one line and cli_errors' exit code.
Over 350 lines because it also renders a record for people (transcript, reconciliation, cost, legs,
summary, evaluations), which `callscribe show` and `call` print the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from callscribe_local.aws_local import BusTap
from callscribe_local.cli_errors import explain
from callscribe_local.phone import RING_SECONDS, Conversation, StreamHook, bundled_conversation
from callscribe_local.progress import ConsoleSteps
from callscribe_local.settlement import Settlement
from callscribe_local.stack import LocalStack, StackOptions


@dataclass
class DemoOutcome:
    call_sid: str
    record: dict[str, Any] | None
    settled: Settlement
    events: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Settled with nothing failed (the recording reconciled, the summary final, the cost whole),
        and a completed call with a completed, non-empty transcript."""
        r = self.record or {}
        return (
            self.settled.complete
            and r.get("status") == "completed"
            and r.get("transcriptStatus") == "completed"
            and bool(r.get("transcript"))
            and r.get("summary") is not None
        )


def place_call(
    stack: LocalStack,
    conversation: Conversation,
    console: Console,
    *,
    speed: float = 1.0,
    out_of_order: bool = False,
    stream_hooks: tuple[StreamHook, ...] = (),
    timeout: float | None = None,
) -> DemoOutcome:
    """Place one simulated call on a running stack and follow it until its record settles
    (call_cli.place_and_follow, as `callscribe call` does), showing the product's events too."""
    from callscribe_local.call_cli import CallTarget, place_and_follow

    steps = ConsoleSteps(console)
    tap = BusTap(stack.options.names.event_bus_name)
    seen: list[str] = []

    def show_events(record: dict[str, Any]) -> None:
        for event in tap.events_for(str(record.get("callSid"))):
            kind = event["detail-type"]
            if kind not in seen:
                seen.append(kind)
                steps.step(f"event: {kind}", _event_detail(event))

    started = time.monotonic()
    placed = place_and_follow(
        CallTarget.of_stack(stack),
        conversation,
        steps,
        speed=speed,
        out_of_order=out_of_order,
        stream_hooks=stream_hooks,
        timeout=timeout,
        on_record=show_events,
    )
    if placed.record is not None:
        show_events(placed.record)  # what was published since the last look
    return DemoOutcome(
        placed.call_sid, placed.record, placed.followed.settlement, seen, time.monotonic() - started
    )


def _event_detail(event: dict[str, Any]) -> str:
    detail = event.get("detail", {})
    parts = [f"{k}={v}" for k, v in detail.items() if k != "callSid"]
    return ", ".join(parts)


RECORDING_TAG = "[rec]"  # marks a transcript line filled in from the recording (`source: recording`)


def reconciliation_line(record: dict[str, Any]) -> Text | None:
    """Where the transcript came from, under it: `transcriptSource`, `liveCoverage` and the `gaps`
    the recording filled (None before the recording is reconciled)."""
    source = record.get("transcriptSource")
    if source is None:
        return None
    coverage = record.get("liveCoverage")
    gaps = record.get("gaps") or []
    line = Text.assemble(
        ("source: ", "bold"),
        source,
        ("   live coverage: ", "bold"),
        "n/a" if coverage is None else f"{float(coverage):.0%}",
        ("   gaps: ", "bold"),
        ", ".join(f"{g['track']} {float(g['start']):.1f}-{float(g['end']):.1f} s" for g in gaps) or "none",
    )
    if any(s.get("source") == "recording" for s in record.get("transcript") or []):
        line.append(f"   {RECORDING_TAG} = filled in from the recording", style="dim")
    return line


# (view key, label, minutes key, minutes unit) of each part of `cost`, in the order they are printed
COST_PARTS = (
    ("twilioVoiceUsd", "Twilio voice", "voiceMinutes", "min"),
    ("twilioRecordingUsd", "recording", "recordingMinutes", "min"),
    ("deepgramLiveUsd", "Deepgram live", "liveTrackMinutes", "track-min"),
    ("deepgramPrerecordedUsd", "pre-recorded", "prerecordedMinutes", "channel-min"),
    ("claudeUsd", "Claude", None, None),
    ("ttsUsd", "TTS", None, None),
)


def cost_line(record: dict[str, Any]) -> Text | None:
    """The call's estimated cost and its parts, one line (None before any writer estimated it)."""
    cost = record.get("cost")
    if not cost:
        return None
    line = Text.assemble(("cost: ", "bold"), f"${float(cost['totalUsd']):.4f}")
    for key, label, minutes_key, unit in COST_PARTS:
        value = cost.get(key)
        if value is None:
            continue
        minutes = cost.get(minutes_key) if minutes_key else None
        line.append(f"   {label} ${float(value):.4f}")
        if minutes is not None:
            line.append(f" ({float(minutes):g} {unit})", style="dim")
    line.append(f"   estimate, prices as of {cost.get('pricesAsOf') or '?'}", style="dim")
    return line


def billed_line(record: dict[str, Any]) -> Text | None:
    """What Twilio billed for the call, beside the estimate of the same parts and how far apart they
    are (None until the sweeper has read Twilio's bill)."""
    billed = (record.get("cost") or {}).get("billed")
    if not billed:
        return None
    unit = billed.get("priceUnit") or "USD"
    money = "${:.4f}" if unit == "USD" else "{:.4f} " + unit
    parts = [
        f"{label} {money.format(float(billed[key]))}"
        for key, label in (("twilioVoice", "voice"), ("twilioRecording", "recording"))
        if billed.get(key) is not None
    ]
    total = billed.get("total")
    amount = "not complete yet" if total is None else money.format(float(total))
    line = Text.assemble(("billed by Twilio: ", "bold"), amount)
    line.append(f" ({', '.join(parts)})" if parts else "")
    cost = record.get("cost") or {}
    keys = ("twilioVoiceUsd", "twilioRecordingUsd")
    estimate = [cost[key] for key in keys if cost.get(key) is not None]
    if total is not None and unit == "USD" and estimate:
        guess = sum(float(value) for value in estimate)
        line.append(f"   the estimate's Twilio parts ${guess:.4f}")
        if total:
            line.append(f" ({(guess - float(total)) / float(total) * 100:+.1f} % of the bill)", style="dim")
    line.append(f"   read {billed.get('readAt') or '?'}", style="dim")
    return line


def leg_lines(record: dict[str, Any]) -> list[Text]:
    """One line per `<Dial>`ed leg (its own Twilio call, priced on its own record), then what the
    whole conversation cost; nothing for a call without legs."""
    legs = record.get("legs") or []
    lines: list[Text] = []
    for leg in legs:
        cost = leg.get("cost") or {}
        total = cost.get("totalUsd")
        line = Text.assemble(
            ("  leg ", "bold"),
            f"{leg.get('callSid')} to {leg.get('to')} ({leg.get('direction')}, {leg.get('status')}, "
            f"{leg.get('durationSeconds')} s): ",
            "not priced yet" if total is None else f"${float(total):.4f}",
        )
        if cost.get("voiceMinutes") is not None:
            line.append(f" ({float(cost['voiceMinutes']):g} min)", style="dim")
        bill = cost.get("billed") or {}
        if bill.get("total") is not None:
            line.append(f", billed {float(bill['total']):.4f} {bill.get('priceUnit') or 'USD'}")
        lines.append(line)
    if legs:
        conversation = record.get("conversationCostUsd")
        amount = "not complete yet" if conversation is None else f"${float(conversation):.4f}"
        lines.append(Text.assemble(("conversation (call and legs): ", "bold"), amount))
    return lines


def render_record(record: dict[str, Any], console: Console) -> None:
    """The transcript by speaker (lines filled in from the recording tagged `[rec]`), where it came
    from once reconciled, what the call cost (estimated, and billed by Twilio once read), and the
    summary's fields, for people (the JSON follows for tools)."""
    table = Table(title="Transcript", title_justify="left", show_lines=False, expand=True)
    table.add_column("time", justify="right", style="dim", no_wrap=True, width=13)
    table.add_column("speaker", style="bold", no_wrap=True)
    table.add_column("text")
    for segment in record.get("transcript") or []:
        speaker = segment.get("speaker") or segment.get("track")
        style = "cyan" if segment.get("track") == "inbound" else "magenta"
        filled = segment.get("source") == "recording"
        table.add_row(
            f"{segment['start']:5.1f}-{segment['end']:5.1f} s",
            f"[{style}]{speaker}[/]",
            # what live missed and the recording filled in: tagged, and in its own style
            Text.assemble((f"{RECORDING_TAG} ", "bold yellow"), (segment.get("text", ""), "italic"))
            if filled
            else Text(segment.get("text", "")),
        )
    console.print(table)
    reconciliation = reconciliation_line(record)
    if reconciliation is not None:
        console.print(reconciliation, highlight=False)
    cost = cost_line(record)
    if cost is not None:
        console.print(cost, highlight=False)
    billed = billed_line(record)
    if billed is not None:
        console.print(billed, highlight=False)
    for line in leg_lines(record):
        console.print(line, highlight=False)
    summary = record.get("summary")
    if not summary:
        console.print(Panel("no summary", title="Summary", border_style="red"))
        return
    lines: list[str] = []
    for key in ("summary", "caller_intent", "outcome", "sentiment", "follow_up_needed", "topics"):
        if key in summary and summary[key] not in (None, "", []):
            value = ", ".join(map(str, summary[key])) if isinstance(summary[key], list) else summary[key]
            lines.append(f"[bold]{key.replace('_', ' ')}:[/] {value}")
    for item in summary.get("action_items") or []:
        if isinstance(item, dict):
            lines.append(f"[bold]action:[/] {item.get('owner', '?')}: {item.get('description', '')}")
    lines.append(f"[bold]model:[/] {summary.get('model', '?')}")
    console.print(Panel("\n".join(lines), title="Summary", title_align="left", border_style="green"))
    evaluations = evaluation_lines(record)
    if evaluations:
        console.print(
            Panel("\n".join(evaluations), title="Evaluations", title_align="left", border_style="blue"),
            highlight=False,
        )


def evaluation_lines(record: dict[str, Any]) -> list[str]:
    """One line per evaluation answer: id, answer (or that the transcript could not tell), who
    answered, and how many transcript lines support it."""
    lines: list[str] = []
    for item in record.get("evaluations") or []:
        answer = item.get("answer")
        shown = f"[bold]{answer}[/]" if answer is not None else "[dim]cannot tell[/]"
        evidence = len(item.get("evidence") or [])
        by = item.get("answered_by", "?")
        lines.append(
            f"{item.get('id')}: {shown}  [dim]({item.get('question', '')}; by {by}, "
            f"{evidence} supporting line{'s' if evidence != 1 else ''})[/]"
        )
    return lines


# What the demo shows analysts: the call's own row of the flat table, and one saved query's answer.
ANALYST_COLUMNS = (
    "call_sid", "call_date", "direction", "route", "status", "duration_seconds", "transcript_source",
    "live_coverage", "outcome", "sentiment", "evaluation_count", "redacted_total", "cost_total_usd",
)  # fmt: skip
ANALYST_QUERY = "evaluation-pass-rates"


@dataclass(frozen=True)
class AnalystView:
    rows: dict[str, int]  # flat table -> rows derived
    facts: list[dict[str, Any]]
    query: list[dict[str, Any]]
    error: str | None = None


def analyst_tables(stack: LocalStack) -> AnalystView:
    """The daily export workflow, run now on the local stack: the tables exported to the local S3,
    the flat Parquet tables derived by the Athena SQL (on DuckDB), and one saved query answered."""
    import tempfile
    from pathlib import Path

    import boto3

    from callscribe_local import local_analytics as analytics
    from callscribe_local.warehouse import WarehouseError
    from shared.analytics.queries import SAVED_QUERIES

    names = stack.options.names
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    run = analytics.Run.now()
    bucket = "callscribe-demo-exports"
    try:
        exported = {}
        for raw, table in (("calls", names.calls_table), ("transcripts", names.transcripts_table)):
            export = analytics.export_table(dynamodb, s3, table, bucket, "exports", run)
            if not export.completed:
                return AnalystView({}, [], [], f"the export of {table} ended {export.status}")
            exported[raw] = export.keys
        with tempfile.TemporaryDirectory(prefix="callscribe-demo-") as workdir:
            rows = analytics.derive_from_export(s3, bucket, exported, run.day, run.stamp, Path(workdir))
            warehouse = analytics.latest_warehouse(s3, bucket, Path(workdir) / "query")
            try:
                facts = warehouse.query(f"SELECT {', '.join(ANALYST_COLUMNS)} FROM call_facts_current")  # noqa: S608
                (saved,) = [q for q in SAVED_QUERIES if q.name == ANALYST_QUERY]
                answer = warehouse.query(saved.sql)
            finally:
                warehouse.close()
    except (WarehouseError, OSError, ValueError) as exc:
        return AnalystView({}, [], [], str(exc))
    return AnalystView(rows, facts, answer)


def render_analyst_tables(view: AnalystView, console: Console) -> None:
    if view.error is not None:
        console.print(f"[red]Analyst tables: {view.error}[/]")
        return
    counts = ", ".join(f"{name} {count}" for name, count in view.rows.items())
    console.print(
        f"[bold]Analyst tables[/] (daily export → Parquet, the Athena SQL run by DuckDB): {counts} rows"
    )
    for fact in view.facts:  # one call: a column per line reads better than one wide row
        table = Table(
            "column", "value", title=f"call_facts_current: {fact['call_sid']}", title_justify="left"
        )
        for column, value in fact.items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            table.add_row(column, "" if value is None else str(shown))
        console.print(table)
    for title, rows in ((f"saved query {ANALYST_QUERY}", view.query),):
        table = Table(title=title, title_justify="left", expand=False)
        for column in rows[0] if rows else ["(no rows)"]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("" if value is None else str(value) for value in row.values()))
        console.print(table)


def call_length(conversation: Conversation, speed: float) -> str:
    """How long the call streams, from the audio: the local routes forward the call, so the
    conversation starts once the dialled party answers (`RING_SECONDS`), silence before it."""
    streamed = conversation.delayed(RING_SECONDS).seconds
    pace = "real time" if speed == 1 else f"{speed:g}x real time"
    return (
        f"two speakers, {conversation.seconds:.1f} s after {RING_SECONDS:.1f} s of ringing: "
        f"{streamed:.1f} s streamed, {pace}"
    )


def run(argv: list[str] | None = None, stdout: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m callscribe_local.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="stream faster than real time (Twilio is real time: 1.0)"
    )
    parser.add_argument(
        "--out-of-order", action="store_true", help="deliver status callbacks out of order, as Twilio may"
    )
    args = parser.parse_args(argv)

    out = stdout or sys.stdout
    # Piped or captured output gets a wider fixed width than rich's 80 columns: lines stay whole.
    console = Console(file=out, highlight=False, width=None if out.isatty() else 120)
    started = time.monotonic()
    console.rule("[bold]callscribe[/] · the whole call pipeline on this machine, offline")
    steps = ConsoleSteps(console)
    options = StackOptions.from_environment(capture_stdout=True)
    conversation = bundled_conversation()
    console.print("[bold]Starting the local stack[/]")
    stack = LocalStack(options, observer=steps)
    try:
        with stack:
            console.print(f"[bold]Placing the bundled call[/] ({call_length(conversation, args.speed)})")
            outcome = place_call(
                stack, conversation, console, speed=args.speed, out_of_order=args.out_of_order
            )
            analysts = analyst_tables(stack)
            console.print("[bold]Stopping the local stack[/]")
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one line, as the CLI says it
        line, code = explain(exc)
        console.print(
            f"[red]The demo failed:[/] {line}\nLogs of every part: {stack.log_dir}", highlight=False
        )
        return int(code)
    log_dir = stack.log_dir
    elapsed = time.monotonic() - started

    if outcome.record is None:
        console.print(f"[red]The call {outcome.call_sid} has no record.[/] Logs: {log_dir}")
        return 1
    render_record(outcome.record, console)
    render_analyst_tables(analysts, console)
    ok = outcome.complete
    verdict = "[green]complete[/]" if ok else "[red]incomplete[/]"
    console.print(
        f"Call {outcome.call_sid}: record {verdict}; events seen: {', '.join(outcome.events) or 'none'}. "
        f"Demo wall time {elapsed:.1f} s. Logs: {log_dir}"
    )
    console.rule("GET /calls/" + outcome.call_sid)
    out.write(json.dumps(outcome.record, indent=2, ensure_ascii=False) + "\n")
    out.flush()
    return 0 if ok else 1


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
