"""TaskSet: every task tracked until done, failures logged when they happen, nothing left running."""

from __future__ import annotations

import asyncio
from typing import Any

from streamer.calllog import CallLog
from streamer.tasks import TaskSet, settled


class RecordingLogger:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, Any]]] = []

    def error(self, message: str, extra: dict[str, Any], stacklevel: int) -> None:
        self.errors.append((message, extra))


def _task_set() -> tuple[TaskSet, RecordingLogger]:
    logger = RecordingLogger()
    return TaskSet(CallLog(logger, call_sid="CAtest"), "call task failed"), logger  # type: ignore[arg-type]


async def test_a_failed_task_is_logged_with_its_name_and_forgotten() -> None:
    tasks, logger = _task_set()

    async def boom() -> None:
        raise RuntimeError("no table")

    task = tasks.spawn(boom(), "cdr-started")
    await settled(task)
    await asyncio.sleep(0)  # done callbacks run on the next loop pass
    assert tasks.pending() == []
    ((message, extra),) = logger.errors
    assert message == "call task failed"
    assert extra["task"] == "cdr-started"
    assert extra["error"] == "RuntimeError: no table"
    assert extra["call_sid"] == "CAtest"


async def test_settle_returns_as_soon_as_every_task_has_finished() -> None:
    tasks, logger = _task_set()
    release = asyncio.Event()
    done: list[str] = []

    async def quick() -> None:
        await release.wait()
        done.append("quick")

    tasks.spawn(quick(), "quick")
    asyncio.get_running_loop().call_soon(release.set)
    await tasks.settle(grace=60.0)  # returns when the task is done, not after the grace
    assert done == ["quick"]
    assert logger.errors == []


async def test_settle_cancels_what_is_still_running_after_the_grace() -> None:
    tasks, logger = _task_set()

    async def stuck() -> None:
        await asyncio.Event().wait()

    stuck_task = tasks.spawn(stuck(), "stuck")
    await tasks.settle(grace=0.0)
    assert stuck_task.cancelled()
    assert logger.errors == []  # a cancellation is not a failure


async def test_settled_accepts_no_task_and_finished_tasks() -> None:
    tasks, _ = _task_set()
    await settled(None)

    async def nothing() -> None:
        return None

    task = tasks.spawn(nothing(), "nothing")
    await settled(task)
    await settled(task)
    assert task.done()
