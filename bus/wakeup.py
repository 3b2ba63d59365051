"""A future whose waiting task steps inside the call that resolves it, not a loop pass later.

An ``asyncio.Future`` resolved by a loop callback (a reader on a socket's FD) schedules the
waiting task's step for the loop's next pass: one more pass, with its ``epoll_wait`` and its
callback bookkeeping, between a message's arrival and the code waiting for it. On the event
path (reader wakes, follower decodes, consumer sees the update) that pass was a fifth of the
subscriber's CPU per event. A :class:`Wakeup` is what ``asyncio.Task`` accepts from an ``await``
(``_asyncio_future_blocking``, ``get_loop``, ``add_done_callback``, ``result``, ``cancel``),
and :meth:`Wakeup.set` calls the task's wake-up at once when it runs in a loop callback, as
``bus/eager.py`` runs a first step at once. Inside a running task (where another task may not
step) and on cancellation the wake-up is scheduled as any future's is.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator
from typing import Generic, TypeVar, cast

T = TypeVar("T")
Callback = Callable[["Wakeup[T]"], object]


class Wakeup(Generic[T]):
    """One wait: resolved once by :meth:`set`, or cancelled."""

    __slots__ = ("_asyncio_future_blocking", "_callback", "_context", "_loop", "_result", "_state")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._asyncio_future_blocking = False  # True while a task waits on it (asyncio's flag)
        self._callback: Callback[T] | None = None
        self._context: contextvars.Context | None = None
        self._result: T | None = None
        self._state = "pending"  # then "done" or "cancelled"

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return self._state != "pending"

    def cancelled(self) -> bool:
        return self._state == "cancelled"

    def add_done_callback(
        self, fn: Callback[T], *, context: contextvars.Context | None = None
    ) -> None:
        """Keep the waiting task's wake-up (one waiter: a task's ``await``)."""
        if self._state != "pending":
            self._loop.call_soon(fn, self, context=context)
            return
        self._callback, self._context = fn, context

    def remove_done_callback(self, fn: Callback[T]) -> int:
        if self._callback is not fn:
            return 0
        self._callback = None
        return 1

    def result(self) -> T:
        if self._state == "cancelled":
            raise asyncio.CancelledError
        if self._state == "pending":
            raise asyncio.InvalidStateError("the wait is not over")
        return cast(T, self._result)  # set: a T (which may itself be None)

    def exception(self) -> BaseException | None:
        if self._state == "cancelled":
            raise asyncio.CancelledError
        return None

    def set(self, value: T) -> None:
        """End the wait with ``value``; the waiting task steps now (a no-op once it is over)."""
        if self._state != "pending":
            return
        self._state, self._result = "done", value
        callback, self._callback = self._callback, None
        if callback is None:
            return
        if asyncio.current_task(self._loop) is not None:
            self._loop.call_soon(callback, self, context=self._context)
        elif self._context is not None:
            self._context.run(callback, self)
        else:
            callback(self)

    def cancel(self, msg: object = None) -> bool:
        """Cancel the wait; its task is woken in the loop's next pass, as by a future."""
        if self._state != "pending":
            return False
        self._state = "cancelled"
        callback, self._callback = self._callback, None
        if callback is not None:
            self._loop.call_soon(callback, self, context=self._context)
        return True

    def __await__(self) -> Generator[Wakeup[T], None, T]:
        if self._state == "pending":
            self._asyncio_future_blocking = True
            yield self
        return self.result()
