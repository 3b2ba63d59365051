"""The gate in front of image decoding: at most one decode per core, off the event loop.

Decoding a PNG or WebP costs its full size in memory (neither format can decode at a reduced
scale; only JPEG has ``draft``) and a core for its duration. Unbounded, 30 thumbnails of 49 M-pixel
PNGs at once took a backend to 2.3 GB and starved the event loop and the default thread pool, so
``/health`` took 1.15 s (main's liveness timeout is 1 s). Here waiting requests queue on an
:class:`asyncio.Semaphore`, in the event loop, holding no thread; only ``limit`` decodes (one per
core) run at a time, each through :func:`asyncio.to_thread`, so peak memory is bounded by
``limit`` x the pixel limit and the thread pool keeps threads free for everything else.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def default_limit() -> int:
    """One image decode per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class ImageWork:
    """Run blocking image work in a thread, at most ``limit`` at a time; counts for tests."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or default_limit()
        self.running = 0  # decodes in their thread now
        self.waiting = 0  # requests queued for a slot
        self.peak = 0  # the most that ever ran at once
        self._slots = asyncio.Semaphore(self.limit)
        self._threads: set[asyncio.Future[Any]] = set()

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` in a thread, once a slot is free.

        A request cancelled meanwhile (its client hung up) does not free the slot early: the
        thread goes on until the work ends, and the slot is freed then.
        """
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        thread = asyncio.ensure_future(asyncio.to_thread(work, *args, **kwargs))
        self._threads.add(thread)
        thread.add_done_callback(self._done)
        return await asyncio.shield(thread)

    def _done(self, thread: asyncio.Future[Any]) -> None:
        self._threads.discard(thread)
        self.running -= 1
        self._slots.release()
