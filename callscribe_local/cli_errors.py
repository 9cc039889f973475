"""Every way a `callscribe` command can fail, as one plain line saying what to do, and its exit code.

Commands raise `CliError` for what they know is wrong (a bad option, a file that is not audio, no
stack running, an unknown call); everything else that can escape a command (a stack part that did not
start, a port in use, a stack that stopped answering, Ctrl-C, a bug) is mapped here by `explain`, in
one place, so no command prints a traceback or a library's own wording. `--debug` (or
`CALLSCRIBE_DEBUG=1`) shows the traceback as well.

Exit codes, one per kind (docs/local.md lists them): 0 done; 1 done but incomplete (a call that did
not settle in time, or whose summary or reconciliation failed); 2 bad usage or input; 3 the local
stack's state (none running, one already running, one not answering); 4 not found; 5 a local part
failed; 70 a bug; 130 interrupted.
"""

from __future__ import annotations

import errno
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    OK = 0
    INCOMPLETE = 1
    USAGE = 2
    STACK_STATE = 3
    NOT_FOUND = 4
    PART_FAILED = 5
    BUG = 70  # EX_SOFTWARE
    INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class CliError(Exception):
    """A failure the command understands: `message` is the line shown, `code` the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


DEBUG_HINT = "run again with --debug (or CALLSCRIBE_DEBUG=1) for the traceback"
START_HINT = "start one with: callscribe local up"


def explain(exc: BaseException, state_file: Path | None = None) -> tuple[str, ExitCode]:
    """The line to show for `exc` and the exit code. `state_file`: the running stack's state file,
    when there is one (a stack that does not answer is then named by it)."""
    import httpx

    from callscribe_local.phone import PhoneError
    from callscribe_local.stack import StackError
    from callscribe_local.warehouse import WarehouseError

    if isinstance(exc, CliError):
        return exc.message, exc.code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C): stopped", ExitCode.INTERRUPTED
    cause = unreachable(exc)
    if cause is not None:
        return _not_answering(_url_of(cause), state_file), ExitCode.STACK_STATE
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            "a port the local stack needs is already in use: choose other ports (--api-port, "
            "--streamer-port, --aws-port) or leave them at 0 for free ones",
            ExitCode.PART_FAILED,
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return _file_problem(exc), ExitCode.USAGE
    if isinstance(exc, StackError):
        return f"the local stack failed: {exc}", ExitCode.PART_FAILED
    if isinstance(exc, PhoneError):
        return f"the simulated call failed: {exc}", ExitCode.PART_FAILED
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return (
            f"the local API answered {response.status_code} to {exc.request.method} {exc.request.url.path}: "
            f"{_body(response)} (its log: lambdas.log in the stack's log folder)",
            ExitCode.PART_FAILED,
        )
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"the local stack did not answer in time ({_url_of(exc)}): is it overloaded?",
            ExitCode.PART_FAILED,
        )
    if isinstance(exc, WarehouseError):
        return str(exc), ExitCode.USAGE
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected error: {type(exc).__name__}: {first} ({DEBUG_HINT})", ExitCode.BUG


def unreachable(exc: BaseException) -> BaseException | None:
    """The connection failure behind `exc` (itself, or what caused it), if it is one: a stack part
    that does not answer (a library may wrap it, as pynamodb does botocore's)."""
    import botocore.exceptions
    import httpx

    kinds = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        botocore.exceptions.EndpointConnectionError,
        ConnectionRefusedError,
    )
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _url_of(exc: BaseException) -> str:
    try:
        return str(exc.request.url)  # type: ignore[attr-defined]  # httpx's errors
    except (AttributeError, RuntimeError):  # not httpx's, or raised before a request was built
        pass
    endpoint = getattr(exc, "kwargs", {}).get("endpoint_url")  # botocore's EndpointConnectionError
    return str(endpoint) if endpoint else "its address"


def _not_answering(url: str, state_file: Path | None) -> str:
    if state_file is None:
        return f"nothing answers at {url}: no local stack is running? {START_HINT}"
    return (
        f"the local stack in {state_file} does not answer at {url}: if it is gone, delete that file; "
        f"then {START_HINT}"
    )


def _file_problem(exc: OSError) -> str:
    name = exc.filename
    if isinstance(exc, FileNotFoundError):
        return f"{name}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{name}: is a folder, not a file"
    if isinstance(exc, PermissionError):
        return f"{name}: permission denied"
    return f"{name}: {exc.strerror or exc}"


def _body(response: object) -> str:
    import httpx

    assert isinstance(response, httpx.Response)
    try:
        doc = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(doc, dict):
        for key in ("message", "error", "detail"):
            if isinstance(doc.get(key), str):
                return str(doc[key])
    return response.text.strip()[:200]
