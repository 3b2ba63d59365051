"""Eager tasks on Python 3.11: a coroutine's first step runs at once, inside a task.

Python 3.12 has this built in (``asyncio.eager_task_factory``). The replier needs it on 3.11 so
that a request whose handler does not wait is answered in the same pass of the loop that read it:
a task's first step otherwise waits for the loop's next pass, and a task per request costs its
creation, that pass and its removal from the loop's set of tasks; together a third of the
replier's cost over a bare REP socket.

An :class:`EagerStarter` keeps one task standing by. A first step runs with that task as
``asyncio.current_task()`` and in a fresh copy of the context, so ``asyncio.timeout()``, task
groups and context variables work as in any task. A step that finishes leaves the task standing
by for the next one; a step that waits claims it, and the task drives the rest of the coroutine
as ``asyncio.Task`` would (wait for what it yielded, resume it, or throw into it what the wait
raised, a cancellation too), while a new task stands by.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any


class _Stepped:
    """A coroutine after its first step: what it waits for, or that it has finished."""

    __slots__ = ("context", "coro", "finished", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None]) -> None:
        self.coro = coro
        self.context = contextvars.copy_context()
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


async def _drive(stepped: _Stepped, error: BaseException | None) -> None:
    """Drive a coroutine on from its first wait (``error``: throw this in first)."""
    coro, waiting, context = stepped.coro, stepped.waiting, stepped.context
    while True:
        if error is None:
            try:
                await _wait(waiting)
            except BaseException as exc:  # noqa: BLE001 - the coroutine decides, as in a task
                error = exc
        resume: Any = coro.send if error is None else coro.throw
        value, error = error, None
        try:
            waiting = context.run(resume, value)
        except StopIteration:
            return


class _Host:
    """A task standing by to host first steps, until one of them waits and claims it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._claimed: _Stepped | None = None
        self._claim: asyncio.Future[None] = loop.create_future()
        self.task = loop.create_task(self._run())

    @property
    def free(self) -> bool:
        return not self._claim.done()  # cancelled too: a first step cancelled its own task

    def claim(self, stepped: _Stepped) -> None:
        self._claimed = stepped
        if not self._claim.done():
            self._claim.set_result(None)

    async def _run(self) -> None:
        error: BaseException | None = None
        try:
            await self._claim
        except asyncio.CancelledError as exc:
            if self._claimed is None:
                raise  # cancelled while standing by
            error = exc  # meant for the coroutine that claimed this task
        assert self._claimed is not None
        await _drive(self._claimed, error)


class EagerStarter:
    """Start coroutines as tasks whose first step runs now (see the module's docstring)."""

    def __init__(self) -> None:
        self._host: _Host | None = None

    def start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run ``coro``'s first step now; its task if it has more to do, None if it finished.

        An exception from the first step propagates to the caller. Inside a running task
        (where another task may not step) this is ``create_task``.
        """
        loop = asyncio.get_running_loop()
        if asyncio.current_task(loop) is not None:
            return loop.create_task(coro)
        host = self._host
        if host is None or host.loop is not loop or not host.free:
            host = self._host = _Host(loop)
        stepped = _Stepped(coro)
        asyncio.tasks._enter_task(loop, host.task)  # what Task.__step does around each step
        try:
            stepped.context.run(stepped.step)
        finally:
            asyncio.tasks._leave_task(loop, host.task)
        if stepped.finished:
            return None
        self._host = None
        host.claim(stepped)
        return host.task

    def close(self) -> None:
        """Stop the task standing by (tasks already claimed run on)."""
        if self._host is not None:
            self._host.task.cancel()
            self._host = None
