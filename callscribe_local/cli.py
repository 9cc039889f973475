"""The `callscribe` command: the local stack for people trying the product before touching AWS.

Subcommands: `local up`, `call`, `call --to agent`, `show`, `export`, `query`, `sweep`,
`backfill-evaluations`, `tail`, `users add` (docs/local.md, "The `callscribe` command", says what
each does). `local up` writes a state file the other commands find the running stack by; `call`
without one brings up a private stack for the call. Everything is local, except `tail` and
`users add` with `--stack NAME`, which work on a deployed stack with your AWS credentials.
Must keep: every failure is one line saying what to do and its exit code (`cli_errors.py`;
`--debug` adds the traceback).
It is this long because it holds every subcommand's options and the small commands themselves; the
longer flows are modules of their own (call_cli, agent_cli, progress, settlement, cli_errors).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from callscribe_local.aws_local import LOCAL_REGION, LocalNames, fake_credentials_env
from callscribe_local.call_cli import OUTAGE_REPLAY_BUFFER_SECONDS, parse_window
from callscribe_local.calls_client import get_call
from callscribe_local.cli_errors import CliError, ExitCode, explain, unreachable
from shared.anthropic_clients import ModelProvider
from shared.patterns import CALL_SID_PATTERN

if TYPE_CHECKING:  # the stack module is imported only by the commands that start one
    from callscribe_local.people import PeopleEndpoints
    from callscribe_local.stack import LocalStack

DEFAULT_EXPORT_BUCKET = "callscribe-exports"
DEBUG_ENV = "CALLSCRIBE_DEBUG"
GROUP_CHOICES = ("viewers", "supervisors")  # shared.access.GROUPS' names (imported lazily there)
__all__ = ["StackState", "main", "parse_window", "read_state"]


# -- the running stack's state file ---------------------------------------------------------------


@dataclass(frozen=True)
class StackState:
    pid: int
    api: str
    stream: str
    aws: str
    deepgram: str
    anthropic: str
    log_dir: str
    account_sid: str
    auth_token: str
    names: dict[str, str]
    twilio: str = ""  # the Twilio REST stand-in (recordings are served there, calls read there)
    model_provider: str = "anthropic"  # what `anthropic` is: Anthropic's API, or Bedrock's runtime
    # the people's side (contract: console, console_api, console_user, console_password, feed)
    console: str = ""  # the console's URL
    console_api: str = ""  # the people's read API (`<console>/api`)
    console_user: str = ""
    console_password: str = ""
    feed: str = ""  # the live feed's realtime URL (ws://…/event/realtime)
    feed_http: str = ""  # its publish endpoint (http://host:port): the auth header names its host
    user_pool: dict[str, str] = field(default_factory=dict)  # region, pool_id, client_id, endpoint

    def local_names(self) -> LocalNames:
        return LocalNames(**self.names)

    @classmethod
    def of(cls, stack: LocalStack) -> StackState:
        """The state of a running stack in this process (what `local up` writes, and tests too)."""
        assert stack.urls is not None, "the stack is not running"
        values: dict[str, Any] = {
            **stack.urls.as_dict(),
            **(stack.people.state() if stack.people is not None else {}),
            "pid": os.getpid(),
            "account_sid": stack.account_sid,
            "auth_token": stack.auth_token,
            "names": asdict(stack.options.names),
            "model_provider": stack.options.model_provider.value,
        }
        return cls(**values)

    def save(self, path: Path) -> None:
        """Write the state file (owner-only: it holds the local auth token)."""
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)


def state_path() -> Path:
    override = os.environ.get("CALLSCRIBE_LOCAL_STATE")
    if override:
        return Path(override)
    user = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"callscribe-local-{user}.json"


def read_state() -> StackState | None:
    """The running stack, or None (no file, or its process is gone: a stale file is removed)."""
    path = state_path()
    try:
        state = StackState(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        pass  # alive, someone else's
    return state


def _require_state() -> StackState:
    state = read_state()
    if state is None:
        raise CliError("no local stack is running: start one with: callscribe local up", ExitCode.STACK_STATE)
    return state


def point_at(state: StackState) -> None:
    """This process's AWS clients talk to the running stack's moto, never a real account."""
    os.environ.update(fake_credentials_env())
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_ENDPOINT_URL"] = state.aws


# -- commands -------------------------------------------------------------------------------------


def _check_ports(args: argparse.Namespace) -> None:
    """Each port asked for by number must be free now (0: any free one), named by its option."""
    for option, port in (("--api-port", args.api_port), ("--streamer-port", args.streamer_port),
                         ("--aws-port", args.aws_port)):  # fmt: skip
        if not port:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise CliError(f"{option} {port}: {exc.strerror}") from exc
                raise CliError(
                    f"{option} {port} is in use: choose another port, or 0 (the default) for a free one",
                    ExitCode.PART_FAILED,
                ) from exc


def cmd_local_up(args: argparse.Namespace, console: Console) -> int:
    from callscribe_local.progress import ConsoleSteps
    from callscribe_local.stack import AGENT_NUMBER, LISTEN_NUMBER, LocalStack, StackOptions

    existing = read_state()
    if existing is not None:
        raise CliError(
            f"a local stack is already running (pid {existing.pid}, API {existing.api}): use it, or stop it "
            "(Ctrl-C where it runs) first",
            ExitCode.STACK_STATE,
        )
    _check_ports(args)
    options = StackOptions.from_environment(
        capture_stdout=True,
        api_port=args.api_port,
        streamer_port=args.streamer_port,
        moto_port=args.aws_port,
        replay_buffer_seconds=args.replay_buffer_seconds,
        environ={**os.environ, **({"MODEL_PROVIDER": args.model_provider} if args.model_provider else {})},
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print("[bold]Starting the local stack[/]")
    with LocalStack(options, observer=ConsoleSteps(console)) as stack:
        assert stack.urls is not None
        state = StackState.of(stack)
        path = state_path()
        state.save(path)
        try:
            console.print()
            console.print(
                f"[bold]API[/]       {stack.urls.api}   (POST /twilio/voice, GET /calls/{{callSid}}, …)"
            )
            console.print(f"[bold]Streamer[/]  {stack.urls.stream}")
            console.print(f"[bold]AWS[/]       {stack.urls.aws}   (moto: DynamoDB, EventBridge, SQS, S3)")
            console.print(f"[bold]Deepgram[/]  {stack.urls.deepgram}   (live; POST /v1/listen: pre-recorded)")
            console.print(f"[bold]Twilio[/]    {stack.urls.twilio}   (REST: calls, recordings)")
            model = "Bedrock" if stack.options.model_provider is ModelProvider.BEDROCK else "Anthropic"
            console.print(f"[bold]{model:<10}[/]{stack.urls.anthropic}   (the model: summaries, agent mode)")
            console.print(
                f"[bold]Agent[/]     {AGENT_NUMBER} is answered by the voice agent "
                "(callscribe call --to agent hello.wav goodbye.wav)"
            )
            if stack.team_app is not None:
                console.print(
                    f"[bold]Listen[/]    {LISTEN_NUMBER} is streamed and recorded, then handed to a "
                    f"team's TwiML app at {stack.team_app.twiml_url} (docs/listen-in.md)"
                )
            if stack.people is not None:
                people = stack.people
                console.print(f"[bold]Console[/]   {people.console.url}   (open it in a browser and sign in)")
                console.print(f"[bold]Sign in[/]   {people.user}  password {people.password}", soft_wrap=True)
                console.print(f"[bold]Read API[/]  {people.console.api_url}   (GET /calls, … with a sign-in)")
                console.print(f"[bold]Feed[/]      {people.feed.realtime_url}   (callscribe tail)")
            console.print(f"[bold]Logs[/]      {stack.urls.log_dir}")
            console.print("\nTo point your own tools at it:")
            for key, value in stack.env().items():
                console.print(f"  export {key}={value}", highlight=False, soft_wrap=True)
            console.print(
                "\nTry: [bold]callscribe call my-audio.wav[/]   then [bold]callscribe show CA…[/]. "
                "Ctrl-C stops the stack (and forgets every call)."
            )
            while not stop.wait(0.5):
                pass
        finally:
            path.unlink(missing_ok=True)
            console.print("[bold]Stopping the local stack[/]")
    return 0


def cmd_call(args: argparse.Namespace, console: Console) -> int:
    if args.to is not None:
        from callscribe_local.agent_cli import cmd_agent_call

        return cmd_agent_call(args, console)
    from callscribe_local.call_cli import cmd_plain_call

    return cmd_plain_call(args, console)


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    from callscribe_local.demo import render_record
    from callscribe_local.settlement import settlement

    if not re.match(CALL_SID_PATTERN, args.call_sid):
        raise CliError(f"{args.call_sid!r} is not a call SID (CA and 32 hex digits)")
    state = _require_state()
    record = get_call(state.api, args.call_sid)
    if record is None:
        raise CliError(
            f"no call {args.call_sid} on the local stack (a stack forgets its calls when it stops)",
            ExitCode.NOT_FOUND,
        )
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    console.print(
        f"[bold]{record.get('callSid')}[/]  {record.get('from')} → {record.get('to')}  "
        f"status={record.get('status')}  duration={record.get('durationSeconds')} s  "
        f"transcript={record.get('transcriptStatus')}"
    )
    render_record(record, console)
    # the simulated phone records no agent call (`<Start><Recording>` is not simulated): none is coming
    pending = settlement(record, no_recording=record.get("route") == "agent").pending
    if pending:
        console.print(f"[yellow]not final yet[/], still to come: {'; '.join(pending)}", highlight=False)
    return 0


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    import boto3

    state = _require_state()
    point_at(state)
    names = state.local_names()
    tables = {
        "calls": [names.calls_table],
        "transcripts": [names.transcripts_table],
        "all": [names.calls_table, names.transcripts_table],
    }[args.table]
    from callscribe_local import local_analytics as analytics

    dynamodb = boto3.client("dynamodb")
    s3 = boto3.client("s3")
    run = analytics.Run.now()
    exported: dict[str, list[str]] = {}
    for table in tables:
        export = analytics.export_table(dynamodb, s3, table, args.bucket, args.prefix, run)
        colour = "green" if export.completed else "red"
        console.print(
            f"[bold]{table}[/]: export [{colour}]{export.status}[/], {export.items} items → "
            f"s3://{args.bucket}/{export.prefix}/ ({len(export.keys)} objects on the local S3 at {state.aws})"
        )
        for key in export.keys:
            console.print(f"    s3://{args.bucket}/{key}", highlight=False)
        if not export.completed:
            return 1
        exported["calls" if table == names.calls_table else "transcripts"] = export.keys
        _download(s3, args.bucket, export.keys, args.download, console)
    if args.table == "all":
        with tempfile.TemporaryDirectory(prefix="callscribe-analytics-") as workdir:
            rows = analytics.derive_from_export(s3, args.bucket, exported, run.day, run.stamp, Path(workdir))
        folder = f"s3://{args.bucket}/{analytics.ANALYTICS_PREFIX}/<table>/dt={run.day}/{run.stamp}/"
        counts = ", ".join(f"{name} {count}" for name, count in rows.items())
        console.print(
            f"[bold]analyst tables[/] (Parquet, as the workflow's UNLOADs write them): {counts} rows"
            f" → {folder}"
        )
        _download(s3, args.bucket, analytics.flat_keys(s3, args.bucket, run), args.download, console)
        console.print("Query them: callscribe query --list")
    console.print(f"List it yourself: aws --endpoint-url {state.aws} s3 ls --recursive s3://{args.bucket}/")
    return 0


def _download(s3: Any, bucket: str, keys: list[str], into: str | None, console: Console) -> None:
    if not into or not keys:
        return
    target = Path(into)
    for key in keys:
        destination = target / key
        destination.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(destination))
    console.print(f"    downloaded {len(keys)} file(s) under {target}")


def cmd_query(args: argparse.Namespace, console: Console) -> int:
    """A saved analyst query (or any Trino SQL) on the latest local export, run by DuckDB."""
    import boto3
    from botocore.exceptions import ClientError

    from callscribe_local.local_analytics import latest_warehouse
    from callscribe_local.warehouse import WarehouseError, to_duckdb
    from shared.analytics.queries import SAVED_QUERIES, ParameterError

    saved = {query.name: query for query in SAVED_QUERIES}
    if args.list or (not args.name and not args.sql):
        for query in SAVED_QUERIES:
            needs = "".join(f" {p.option} ({p.description})" for p in query.parameters)
            console.print(f"[bold]{query.name}[/]{needs}: {query.description}", highlight=False)
        return 0
    parameters: list[str] = []
    if args.sql:
        sql = args.sql
        try:
            to_duckdb(sql)  # refused before any stack or export is needed
        except WarehouseError as exc:
            raise CliError(f"--sql: {_first_line(exc)}") from exc
    elif args.name in saved:
        sql = saved[args.name].sql
        try:
            parameters = saved[args.name].bind({"call_sid": args.call_sid})
        except ParameterError as exc:
            raise CliError(str(exc)) from exc
    else:
        raise CliError(f"no saved query {args.name!r}: callscribe query --list shows them")
    state = _require_state()
    point_at(state)
    with tempfile.TemporaryDirectory(prefix="callscribe-query-") as workdir:
        try:
            warehouse = latest_warehouse(boto3.client("s3"), args.bucket, Path(workdir))
        except (WarehouseError, ClientError) as exc:
            raise CliError(
                f"no export in s3://{args.bucket} on the local stack yet: run callscribe export first",
                ExitCode.NOT_FOUND,
            ) from exc
        try:
            rows = warehouse.query(sql, parameters)
        except WarehouseError as exc:
            if args.sql:
                raise CliError(f"--sql: {_first_line(exc)}") from exc
            raise CliError(f"the saved query {args.name} failed: {_first_line(exc)}", ExitCode.BUG) from exc
        finally:
            warehouse.close()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    table = Table(*(rows[0] if rows else ["(no rows)"]))
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    console.print(table)
    return 0


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(exc: BaseException) -> str:
    """A library's message as one plain line (sqlglot underlines with terminal codes)."""
    text = _ANSI.sub("", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    """The scheduled sweeper, once, on demand: the running stack has no schedule. Events it re-drives
    go to the running stack's bus, where its dispatchers deliver them."""
    from functions.sweeper.app import build_service
    from functions.sweeper.settings import SweeperSettings
    from shared.observability import logger

    state = _require_state()
    point_at(state)
    environ = {
        **os.environ,
        **state.local_names().env(),
        "SWEEP_AFTER_SECONDS": str(args.after),
        # the stack's Twilio stand-in, which the sweeper reads when a callback was lost (at once)
        "TWILIO_ACCOUNT_SID": state.account_sid,
        "TWILIO_AUTH_TOKEN": state.auth_token,
        **({"TWILIO_API_BASE_URL": state.twilio} if state.twilio else {}),
        "SWEEP_TWILIO_AFTER_SECONDS": os.environ.get("SWEEP_TWILIO_AFTER_SECONDS", "0"),
    }
    level = logger.log_level
    logger.setLevel("WARNING")  # the run's own log lines would bury the report
    try:
        report = build_service(SweeperSettings.from_env(environ)).sweep().as_dict()
    except Exception as exc:
        if unreachable(exc) is not None:
            raise  # the stack is not answering: said as for every command
        raise CliError(
            f"the sweep did not finish every call: {_first_line(exc)}", ExitCode.PART_FAILED
        ) from exc
    finally:
        logger.setLevel(level)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console.print(
        f"[bold]swept[/] {report['due']} due call(s): {report['settled']} settled, "
        f"{report['redriven']} re-driven, {report['waiting']} waiting, {report['gaveUp']} given up"
    )
    console.print(
        f"  transcripts finished {report['transcriptsFinished']}, Transcript Completed re-published "
        f"{report['transcriptCompletedRepublished']}, Recording Completed re-published "
        f"{report['recordingCompletedRepublished']}"
    )
    return 0


def backfill_environment(state: StackState, environ: dict[str, str]) -> dict[str, str]:
    """The summaries' environment for a backfill against the running stack: its tables on moto, its
    model (the Bedrock stand-in on a Bedrock stack; else the Anthropic stand-in, unless
    ANTHROPIC_API_KEY says the stack used the real API) and its questions (EVALUATION_QUESTIONS, else
    the local stack's demo set)."""
    from callscribe_local.stack import DEMO_EVALUATION_QUESTIONS, LOCAL_ANTHROPIC_KEY, OFFLINE_SUMMARY_MODEL

    env = {**environ, **state.local_names().env()}
    if state.model_provider == ModelProvider.BEDROCK:
        env.update(
            MODEL_PROVIDER=ModelProvider.BEDROCK.value,
            ANTHROPIC_BEDROCK_BASE_URL=state.anthropic,
            BEDROCK_REGION=LOCAL_REGION,
        )
    elif not environ.get("ANTHROPIC_API_KEY"):
        env.update(
            ANTHROPIC_API_KEY=LOCAL_ANTHROPIC_KEY,
            ANTHROPIC_BASE_URL=state.anthropic,
            SUMMARY_MODEL=environ.get("SUMMARY_MODEL") or OFFLINE_SUMMARY_MODEL,
        )
    env.setdefault("EVALUATION_QUESTIONS", DEMO_EVALUATION_QUESTIONS)
    return env


def cmd_backfill_evaluations(args: argparse.Namespace, console: Console) -> int:
    """`functions.summaries.backfill` against the running local stack (same code as for AWS)."""
    from functions.summaries.backfill import run_from_env

    if not args.max_usd >= 0:
        raise CliError("--max-usd must be a number of dollars, 0 or more")
    if args.since < args.until:
        raise CliError("--since must be at least --until (both are days before today)")
    state = _require_state()
    point_at(state)
    environ = backfill_environment(state, dict(os.environ))
    report = run_from_env(args.max_usd, args.since, args.until, dry_run=args.dry_run, environ=environ)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for line in report.lines():
            console.print(line, highlight=False)
    return 0


# -- the people's side: who may see calls, and the live feed ---------------------------------------


def _people(args: argparse.Namespace, console: Console) -> PeopleEndpoints:
    """The deployed stack named by --stack, or the running local stack."""
    from callscribe_local.cognito import UserPool
    from callscribe_local.people import PeopleEndpoints, PeopleError, deployed

    if args.stack:
        return deployed(args.stack, args.region)
    state = _require_state()
    if not state.user_pool or not state.feed:
        raise PeopleError("the running local stack has no console: restart it with callscribe local up")
    point_at(state)
    return PeopleEndpoints(
        pool=UserPool(**state.user_pool),
        feed_http_host=urlsplit(state.feed_http).netloc,
        feed_realtime_url=state.feed,
        local_user=state.console_user,
        local_password=state.console_password,
    )


def cmd_users_add(args: argparse.Namespace, console: Console) -> int:
    from callscribe_local.people import PeopleError, add_person

    try:
        console.print(
            add_person(_people(args, console), args.email, args.group), highlight=False, soft_wrap=True
        )
    except PeopleError as exc:
        console.print(f"[red]{exc}[/]", highlight=False, soft_wrap=True)
        return 1
    return 0


def _tail_credentials(args: argparse.Namespace, endpoints: PeopleEndpoints) -> tuple[str, str]:
    """Who `tail` signs in as: the local stack's person, or --user with CALLSCRIBE_PASSWORD / a prompt."""
    from callscribe_local.people import PeopleError

    if endpoints.local_user and endpoints.local_password:
        return endpoints.local_user, endpoints.local_password
    if not args.user:
        raise PeopleError("--user EMAIL is needed to sign in to a deployed stack")
    return args.user, os.environ.get("CALLSCRIBE_PASSWORD") or getpass.getpass(f"Password for {args.user}: ")


def cmd_tail(args: argparse.Namespace, console: Console) -> int:
    from callscribe_local.people import PeopleError
    from callscribe_local.tail import FeedFollower, TailError, channel_for, format_message
    from shared.sids import is_call_sid

    if args.call_sid is not None and not is_call_sid(args.call_sid):
        raise CliError(f"{args.call_sid!r} is not a call SID (CA and 32 hex digits)")
    try:
        endpoints = _people(args, console)
        user, password = _tail_credentials(args, endpoints)
        channel = channel_for(args.call_sid)

        def show(event: dict[str, Any]) -> None:
            if args.json:
                print(json.dumps(event, ensure_ascii=False), flush=True)
            else:
                console.print(format_message(event), highlight=False, markup=False, soft_wrap=True)

        follower = FeedFollower(
            endpoints, user, password, channel, show, note=lambda line: console.print(f"[dim]{line}[/]")
        )
        console.print(f"[dim]following {channel} as {user} (Ctrl-C stops)[/]", highlight=False)
        asyncio.run(follower.run(count=args.count))
    except (PeopleError, TailError) as exc:
        console.print(f"[red]{exc}[/]", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


# -- argument parsing -----------------------------------------------------------------------------


def _agent_options(call: argparse.ArgumentParser) -> None:
    """`call`'s options for a conversation with the voice agent (callscribe_local/agent_cli.py)."""
    agent = call.add_argument_group("talking to the agent (--to)")
    agent.add_argument(
        "--to",
        metavar="agent|NUMBER",
        help="call this number (E.164), or 'agent': the number the local stack routes to the voice agent; "
        "each AUDIO is then one caller turn, spoken when the agent has finished its answer",
    )
    agent.add_argument(
        "--agent-audio", metavar="OUT.wav", help="write what the caller said (left) and heard (right)"
    )
    agent.add_argument(
        "--pause", type=float, default=0.6, metavar="S", help="the caller answers S after the agent"
    )
    agent.add_argument(
        "--reply-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="speak anyway after S without an answer",
    )
    agent.add_argument(
        "--interrupt-after",
        type=float,
        default=None,
        metavar="S",
        help="speak S into each answer (a barge-in)",
    )


DEBUG_HELP = f"on failure, print the traceback too (or set {DEBUG_ENV}=1)"


class _Parser(argparse.ArgumentParser):
    """argparse, whose mistakes are one line too (its own usage block is what --help is for)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stdout)
        raise SystemExit(ExitCode.USAGE)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: needs a number above 0")
    return value


def _with_debug(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`--debug` after the command too (`callscribe call x.wav --debug`), not only before it."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="callscribe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local stack")
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="up")
    up = local_commands.add_parser("up", help="start the local stack and keep it running")
    up.add_argument("--api-port", type=int, default=0)
    up.add_argument("--streamer-port", type=int, default=0)
    up.add_argument("--aws-port", type=int, default=0)
    up.add_argument(
        "--replay-buffer-seconds",
        type=float,
        default=None,
        metavar="S",
        help="the streamer's REPLAY_BUFFER_SECONDS (default 30): audio replayed after a drop",
    )
    up.add_argument(
        "--model-provider",
        choices=[provider.value for provider in ModelProvider],
        default=None,
        help="where summaries and agent mode ask Claude: the Anthropic API's stand-in (default, or "
        "MODEL_PROVIDER) or Amazon Bedrock's (SigV4, event streams); both answer with the offline summariser",
    )
    up.set_defaults(func=cmd_local_up)

    call = commands.add_parser("call", help="place a simulated call with your own audio")
    call.add_argument(
        "audio",
        nargs="+",
        help="the caller's audio: .wav (PCM, float, mu-law or A-law; any rate; stereo = caller and callee) "
        "or 8 kHz mu-law .ulaw; a second file is the other party's (the outbound track). With --to: "
        "each file is one caller turn",
    )
    _agent_options(call)
    call.add_argument("--speed", type=_positive, default=1.0, help="faster than real time (Twilio: 1.0)")
    call.add_argument("--out-of-order", action="store_true", help="status callbacks out of order")
    call.add_argument(
        "--timeout",
        type=_positive,
        default=None,
        metavar="S",
        help="after the call, wait up to S for its record to settle: summary final, recording reconciled, "
        "cost complete (default 120 s + half the call's length)",
    )
    call.add_argument("--json", action="store_true", help="also print the record as JSON")
    call.add_argument(
        "--deepgram-outage",
        action="append",
        metavar="START:END",
        help="the local Deepgram stand-in drops its live connections and refuses new ones from START to "
        "END seconds of the call (repeatable); the live transcript gets a gap the recording can fill",
    )
    call.add_argument(
        "--replay-buffer-seconds",
        type=float,
        default=None,
        metavar="S",
        help=f"private stack only: the streamer's REPLAY_BUFFER_SECONDS (default 30; "
        f"{OUTAGE_REPLAY_BUFFER_SECONDS:g} with --deepgram-outage)",
    )
    call.set_defaults(func=cmd_call)

    show = commands.add_parser("show", help="transcript, cost and summary of a call on the running stack")
    show.add_argument("call_sid")
    show.add_argument("--json", action="store_true", help="the GET /calls/{callSid} JSON instead")
    show.set_defaults(func=cmd_show)

    export = commands.add_parser("export", help="export the tables to the local S3 (point-in-time export)")
    export.add_argument("--table", choices=["calls", "transcripts", "all"], default="all")
    export.add_argument("--bucket", default=DEFAULT_EXPORT_BUCKET)
    export.add_argument("--prefix", default="exports")
    export.add_argument("--download", metavar="DIR", help="also copy the exported files into DIR")
    export.set_defaults(func=cmd_export)

    query = commands.add_parser("query", help="run a saved analyst query on the latest local export")
    query.add_argument("name", nargs="?", help="a saved query's name (see --list)")
    query.add_argument("--sql", help="your own SQL (Athena/Trino dialect) instead of a saved query")
    query.add_argument("--call-sid", help="the call, for the queries that take one (transcript-of-a-call)")
    query.add_argument("--list", action="store_true", help="list the saved queries")
    query.add_argument("--bucket", default=DEFAULT_EXPORT_BUCKET)
    query.add_argument("--json", action="store_true", help="rows as JSON")
    query.set_defaults(func=cmd_query)

    sweep = commands.add_parser("sweep", help="run the sweeper once on the running stack")
    sweep.add_argument(
        "--after",
        type=int,
        default=0,
        metavar="SECONDS",
        help="SWEEP_AFTER_SECONDS: sweep calls that ended at least this long ago (default 0: all)",
    )
    sweep.add_argument("--json", action="store_true", help="print the run's report as JSON")
    sweep.set_defaults(func=cmd_sweep)

    backfill = commands.add_parser(
        "backfill-evaluations",
        help="answer the evaluation questions for past calls on the running stack, under a cost cap",
    )
    backfill.add_argument("--max-usd", type=float, required=True, help="never spend more than this")
    backfill.add_argument("--since", type=int, default=30, metavar="DAYS", help="oldest day, days ago")
    backfill.add_argument("--until", type=int, default=0, metavar="DAYS", help="newest day, days ago")
    backfill.add_argument("--dry-run", action="store_true", help="count calls and the worst case only")
    backfill.add_argument("--json", action="store_true", help="print the report as JSON")
    backfill.set_defaults(func=cmd_backfill_evaluations)

    tail = commands.add_parser("tail", help="follow the live feed: every call's status, or one call's words")
    tail.add_argument(
        "call_sid", nargs="?", help="a call to follow (its segments and status); none: all calls"
    )
    tail.add_argument("--json", action="store_true", help="each message as its JSON")
    tail.add_argument("--count", type=int, default=None, metavar="N", help="stop after N messages")
    _stack_arguments(tail)
    tail.add_argument(
        "--user", metavar="EMAIL", help="with --stack: who signs in (password: CALLSCRIBE_PASSWORD)"
    )
    tail.set_defaults(func=cmd_tail)

    users = commands.add_parser("users", help="the people who may use the console")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    add = users_commands.add_parser("add", help="add a person to a group (creating their account)")
    add.add_argument("email")
    add.add_argument(
        "--group",
        required=True,
        choices=sorted(GROUP_CHOICES),
        help="viewers: calls; supervisors: recordings too",
    )
    _stack_arguments(add)
    add.set_defaults(func=cmd_users_add)
    for command in (local, up, call, show, export, query, sweep, backfill, tail, users, add):
        _with_debug(command)
    return parser


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", metavar="NAME", help="a deployed stack (default: the running local stack)")
    parser.add_argument("--region", help="with --stack: its region (default: your AWS configuration's)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # bound to the terminal now: while a stack runs, sys.stdout carries the handlers' logs
    console = Console(file=sys.stdout, highlight=False)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        code: int = args.func(args, console)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every failure becomes one line (cli_errors)
        if debug:
            traceback.print_exc(file=sys.stderr)
        state = read_state()
        line, status = explain(exc, state_path() if state is not None else None)
        console.print(f"[red]{line}[/]", highlight=False, soft_wrap=True)
        return int(status)
    return code


if __name__ == "__main__":
    sys.exit(main())
