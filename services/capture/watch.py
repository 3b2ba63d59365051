"""Watch the active window and the user's idle time between grabs, cheaply, by polling.

Every ``POLL`` seconds one blocking call (in a thread) reads the active window and the idle time
over the reader's one connection. A change of the active window's app or title starts a settle
delay (``capture.settle``); another change within it starts it again; once it runs out the
watcher asks for a grab (:meth:`WatchSink.window_settled`), at most once per settle delay. Idle
time at or over ``capture.idle_after`` (or a screen saver or lock) is :meth:`WatchSink.idle`;
the first poll that sees input again is :meth:`WatchSink.active`. While idle only the idle time
is read, every ``IDLE_POLL`` seconds, so capture resumes within that of the user's input and an
idle desktop costs next to nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Protocol

from services.capture.windows import WindowInfo, WindowReader

POLL = 0.25  # seconds between two looks at the window and the idle time
IDLE_POLL = 0.5  # while idle: seconds between two looks at the idle time alone

_UNSEEN = object()  # the first reading sets the baseline; it triggers nothing


class WatchSink(Protocol):
    """What the watcher tells the capture service."""

    async def window_settled(self) -> None: ...

    async def idle(self) -> None: ...

    async def active(self) -> None: ...


class Watcher:
    """Polls ``reader``; reports settled window changes and idle transitions to ``sink``."""

    def __init__(
        self, reader: WindowReader, sink: WatchSink, *, settle: float, idle_after: float
    ) -> None:
        self.reader = reader
        self.sink = sink
        self.settle = settle
        self.idle_after = idle_after
        self.is_idle = False
        self._seen: object = _UNSEEN
        self._due: float | None = None  # when the settle delay of the latest change runs out
        self._last_trigger = -math.inf

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            if self.is_idle:
                await self._check_idle(await asyncio.to_thread(self.reader.idle_seconds))
                if self.is_idle:
                    await asyncio.sleep(IDLE_POLL)  # the idle poll's period
                    continue
            window, idle = await asyncio.to_thread(self._look)
            await self._check_idle(idle)
            await self._check_window(window, time.monotonic())
            await asyncio.sleep(POLL)  # the poll's period

    def _look(self) -> tuple[WindowInfo | None, float | None]:
        return self.reader.read(), self.reader.idle_seconds()

    async def _check_idle(self, idle: float | None) -> None:
        if idle is None:
            return
        now_idle = idle >= self.idle_after
        if now_idle != self.is_idle:
            self.is_idle = now_idle
            await (self.sink.idle() if now_idle else self.sink.active())

    async def _check_window(self, window: WindowInfo | None, now: float) -> None:
        key = None if window is None else (window.app, window.title)
        if key != self._seen:
            if self._seen is not _UNSEEN:
                self._due = max(now + self.settle, self._last_trigger + self.settle)
            self._seen = key
        if self._due is not None and now >= self._due:
            self._due = None
            self._last_trigger = now
            if not self.is_idle:
                await self.sink.window_settled()
