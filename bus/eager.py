"""Eager tasks on Python 3.11: a task whose first step runs at once, inside the task.

Python 3.12 has this built in (``asyncio.eager_task_factory``). The replier needs it on 3.11 so
that a request whose handler does not wait is answered in the same pass of the loop that read it:
a task's first step otherwise waits for the loop's next pass, one more poll and loop iteration
per request, which was a third of the replier's cost over a bare REP socket. The first step runs
with its task as ``asyncio.current_task()`` and in the task's context, so ``asyncio.timeout()``,
task groups and context variables work as in any task; what the coroutine has left after its
first wait runs in that same task, driven step by step as a task drives it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any


class _Stepped:
    """A coroutine after its first step: what it waits for, or that it has finished."""

    __slots__ = ("coro", "finished", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None]) -> None:
        self.coro = coro
        self.finished = False
        self.waiting: Any = None

    def step(self) -> None:
        try:
            self.waiting = self.coro.send(None)
        except StopIteration:
            self.finished = True
        except BaseException:
            self.finished = True
            raise


async def _wait(waiting: Any) -> None:
    """Wait for what a coroutine yielded, as its task would."""
    if waiting is None:
        await asyncio.sleep(0)  # a bare yield: it asked for one pass of the loop
    elif getattr(waiting, "_asyncio_future_blocking", False):
        waiting._asyncio_future_blocking = False  # taken, as a task takes a yielded future
        await waiting
    else:
        raise RuntimeError(f"a coroutine yielded {waiting!r}, not a future")


async def _rest(stepped: _Stepped) -> None:
    """Drive the coroutine on from its first wait, as ``asyncio.Task`` would: wait for what it
    yielded, then resume it, or throw into it what the wait raised (a cancellation too)."""
    if stepped.finished:
        return
    coro, waiting = stepped.coro, stepped.waiting
    while True:
        try:
            await _wait(waiting)
        except BaseException as exc:  # noqa: BLE001 - the coroutine decides, as in a task
            resume: Any = coro.throw
            value: Any = exc
        else:
            resume, value = coro.send, None
        try:
            waiting = resume(value)
        except StopIteration:
            return


def start(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coro`` as a task, its first step now; None when that step finished it.

    An exception from the first step propagates to the caller. Inside a running task (where
    another task may not step) this is ``create_task``.
    """
    loop = asyncio.get_running_loop()
    if asyncio.current_task(loop) is not None:
        return loop.create_task(coro)
    stepped = _Stepped(coro)
    context = contextvars.copy_context()
    task = loop.create_task(_rest(stepped), context=context)
    asyncio.tasks._enter_task(loop, task)  # what Task.__step does around each step
    try:
        context.run(stepped.step)
    finally:
        asyncio.tasks._leave_task(loop, task)
    return None if stepped.finished else task
