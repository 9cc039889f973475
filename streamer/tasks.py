"""The tasks one owner (a call's session, its agent) starts: tracked until done, closed with it.

`spawn` returns the task itself. Whoever must wait for a particular task later (a track's
transcription, the CDR write that has to land before the next one) keeps that handle in a typed
attribute and waits on it; names are for logs only, never compared. The set exists so that nothing
is fire-and-forget: a failure is logged the moment it happens, and `settle` leaves no task running
once its owner is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from streamer.calllog import CallLog

T = TypeVar("T")


class TaskSet:
    __slots__ = ("_failure_message", "_log", "_tasks")

    def __init__(self, log: CallLog, failure_message: str = "call task failed") -> None:
        self._log = log
        self._failure_message = failure_message
        self._tasks: set[asyncio.Task[Any]] = set()

    def rebind(self, log: CallLog) -> None:
        """Log later failures with new keys (a session learns its call SID after its first tasks)."""
        self._log = log

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def pending(self) -> list[asyncio.Task[Any]]:
        return [task for task in self._tasks if not task.done()]

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._log.error(self._failure_message, task=task.get_name(), error=f"{type(exc).__name__}: {exc}")

    async def settle(self, grace: float, cancelled_grace: float | None = None) -> None:
        """Wait up to `grace` seconds for every pending task, then cancel the late ones and wait for
        them to unwind (up to `cancelled_grace`, or for as long as they take when None)."""
        pending = self.pending()
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=cancelled_grace)


async def settled(task: asyncio.Task[None] | None) -> None:
    """Wait until `task` (when there is one) has finished, however it ended; its failure, if any, is
    the owner's `TaskSet`'s to log."""
    if task is not None and not task.done():
        await asyncio.wait((task,))
