"""Wake-ups (``bus/wakeup.py``): the waiting task steps inside ``set``; waits end as futures do."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from bus.wakeup import Wakeup

WAIT = 5.0  # seconds: a deadline for what should take milliseconds
LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="loop")


async def _set_from_callback(wakeup: Wakeup[str], value: str, seen: list[str]) -> list[str]:
    """``wakeup.set(value)`` from a plain loop callback; what ``seen`` held when it returned."""
    loop = asyncio.get_running_loop()
    at_return: asyncio.Future[list[str]] = loop.create_future()

    def run() -> None:
        wakeup.set(value)
        at_return.set_result(list(seen))

    loop.call_soon(run)
    async with asyncio.timeout(WAIT):
        return await at_return


async def _await(wakeup: Wakeup[str]) -> str:
    return await wakeup


async def test_the_waiting_task_steps_inside_set() -> None:
    """A task awaiting a Wakeup has run past its await when set() returns in a loop callback."""
    wakeup: Wakeup[str] = Wakeup(asyncio.get_running_loop())
    seen: list[str] = []

    async def wait() -> None:
        seen.append(await wakeup)

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)  # sleep-ok: one pass, so that the task reaches its await
    assert await _set_from_callback(wakeup, "message", seen) == ["message"]
    await task


async def test_the_task_steps_in_its_own_context() -> None:
    """The step run by set() sees the waiting task's context variables, not the caller's."""
    wakeup: Wakeup[str] = Wakeup(asyncio.get_running_loop())
    seen: list[str] = []

    async def wait() -> None:
        LABEL.set("task")
        await wakeup
        seen.append(LABEL.get())

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)  # sleep-ok: one pass, so that the task reaches its await
    assert await _set_from_callback(wakeup, "go", seen) == ["task"]
    await task


async def test_set_inside_a_running_task_wakes_the_waiter_in_the_next_pass() -> None:
    """set() from a task (where another may not step) still resumes the waiter."""
    wakeup: Wakeup[str] = Wakeup(asyncio.get_running_loop())
    waiter = asyncio.create_task(_await(wakeup))
    await asyncio.sleep(0)  # sleep-ok: one pass, so that the waiter reaches its await
    wakeup.set("from a task")
    async with asyncio.timeout(WAIT):
        assert await waiter == "from a task"


async def test_a_wait_already_set_returns_at_once() -> None:
    """Awaiting a Wakeup set before the await gives its value without waiting."""
    wakeup: Wakeup[str] = Wakeup(asyncio.get_running_loop())
    wakeup.set("early")
    wakeup.set("ignored")
    assert await wakeup == "early"


async def test_cancelling_the_waiting_task_ends_its_wait() -> None:
    """A task cancelled while it waits on a Wakeup gets CancelledError; a later set is a no-op."""
    wakeup: Wakeup[str] = Wakeup(asyncio.get_running_loop())
    task = asyncio.create_task(_await(wakeup))
    await asyncio.sleep(0)  # sleep-ok: one pass, so that the task reaches its await
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(WAIT):
            await task
    assert wakeup.cancelled()
    wakeup.set("too late")
    assert wakeup.cancelled()


async def test_a_timeout_around_the_wait_fires() -> None:
    """asyncio.timeout() around an await of a Wakeup that is never set raises TimeoutError."""
    wakeup: Wakeup[str] = Wakeup(asyncio.get_running_loop())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await wakeup
