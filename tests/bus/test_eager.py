"""Eager first steps (``bus/eager.py``): what runs at once, and that the rest runs as in a task."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from bus.eager import EagerStarter

T = TypeVar("T")
Step = Coroutine[Any, Any, None]
WAIT = 5.0  # seconds: a deadline for what should take milliseconds
LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="caller")


async def outside_task(call: Callable[[], T]) -> T:
    """``call()`` from a plain loop callback, where the replier's reader runs (no task)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            done.set_result(call())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting test
            done.set_exception(exc)

    loop.call_soon(run)
    return await done


async def test_a_coroutine_that_does_not_wait_finishes_within_start() -> None:
    """A first step that finishes: start returns None with the coroutine's work already done."""
    starter, seen = EagerStarter(), []

    async def quick() -> None:
        seen.append(asyncio.current_task() is not None)

    def start_and_look() -> tuple[object, list[bool]]:
        return starter.start(quick()), list(seen)

    task, seen_at_return = await outside_task(start_and_look)
    starter.close()
    assert (task, seen_at_return) == (None, [True])


async def test_a_timeout_opened_in_the_first_step_fires_after_it_waits() -> None:
    """asyncio.timeout() entered eagerly cancels the later wait and surfaces as TimeoutError."""
    starter, outcome = EagerStarter(), []

    async def slow() -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(WAIT)  # sleep-ok: the wait the timeout must cut short
        except TimeoutError:
            outcome.append("timed out")

    task = await outside_task(lambda: starter.start(slow()))
    assert task is not None
    await asyncio.wait_for(task, WAIT)
    starter.close()
    assert outcome == ["timed out"]
    assert not task.cancelled()


async def test_cancelling_the_task_reaches_the_coroutine_s_wait() -> None:
    """The task of a coroutine that waits: cancel() raises CancelledError at its await."""
    starter, entered, outcome = EagerStarter(), asyncio.Event(), []

    async def held() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    task = await outside_task(lambda: starter.start(held()))
    assert task is not None
    assert entered.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, WAIT)
    starter.close()
    assert outcome == ["cancelled"]


async def test_context_variables_stay_with_their_coroutine() -> None:
    """A coroutine's context is its own: its values survive its waits and leak nowhere."""
    starter, seen = EagerStarter(), []

    async def labelled(label: str) -> None:
        seen.append(LABEL.get())
        LABEL.set(label)
        await asyncio.sleep(0)  # sleep-ok: a first wait, the behaviour under test
        seen.append(LABEL.get())

    def start_two() -> list[asyncio.Task[None] | None]:
        return [starter.start(labelled("a")), starter.start(labelled("b"))]

    tasks = await outside_task(start_two)
    await asyncio.wait_for(asyncio.gather(*(t for t in tasks if t is not None)), WAIT)
    starter.close()
    assert sorted(seen) == ["a", "b", "caller", "caller"]
    assert LABEL.get() == "caller"


async def test_an_error_in_the_first_step_reaches_the_caller_and_the_starter_goes_on() -> None:
    """An exception raised before the first wait propagates from start; later starts work."""
    starter, seen = EagerStarter(), []

    async def broken() -> None:
        raise ValueError("broken before waiting")

    async def quick() -> None:
        seen.append("ran")

    with pytest.raises(ValueError, match="broken before waiting"):
        await outside_task(lambda: starter.start(broken()))
    assert await outside_task(lambda: starter.start(quick())) is None
    starter.close()
    assert seen == ["ran"]


async def test_one_task_hosts_first_steps_until_one_of_them_waits() -> None:
    """Finished first steps share the standing-by task; one that waits takes it for its own."""
    starter, hosts = EagerStarter(), []

    async def note(wait: bool) -> None:
        hosts.append(asyncio.current_task())
        if wait:
            await asyncio.sleep(0)  # sleep-ok: a first wait, the behaviour under test

    def start_three() -> asyncio.Task[None] | None:
        starter.start(note(wait=False))
        waiting = starter.start(note(wait=True))
        starter.start(note(wait=False))
        return waiting

    waiting = await outside_task(start_three)
    assert waiting is not None
    await asyncio.wait_for(waiting, WAIT)
    starter.close()
    assert hosts[0] is hosts[1] is waiting
    assert hosts[2] is not waiting


async def test_inside_a_task_start_is_create_task() -> None:
    """Called from a running task, start schedules the coroutine; its first step runs later."""
    starter, seen = EagerStarter(), []

    async def quick() -> None:
        seen.append("ran")

    task = starter.start(quick())
    assert task is not None
    assert seen == []
    await asyncio.wait_for(task, WAIT)
    assert seen == ["ran"]
