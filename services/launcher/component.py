"""One process the launcher supervises: start, restart with backoff, give up on a crash loop, stop.

The loop follows uvicorn's supervisors: spawn → wait for the exit → decide (restart after a delay,
or give up with a diagnosis) → repeat, until :meth:`Component.stop`. Every change of state goes to
``on_change`` as a :class:`bus.ComponentStatus` (the launcher publishes it). A component is
``running`` once it says so (:meth:`Component.mark_running`: main when it answers, the frontend
when it announces its URL) or, for those with no such signal, as soon as it is spawned.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog

from bus import ComponentStatus
from services.foundation.supervision import (
    Backoff,
    Child,
    ChildSpec,
    EarlyChild,
    ProcessRecords,
    RestartPolicy,
    describe_exit,
    is_permanent,
)

log = structlog.get_logger(__name__)

STOP_RACE_GRACE = 5.0  # seconds for a child that was spawned just as its stop was asked

ChangeHook = Callable[[ComponentStatus], Awaitable[None]]
DIAGNOSIS_LINES = 10  # last output lines quoted in the reason of a give-up


class ComponentSettings(msgspec.Struct, frozen=True):
    """How to run one component."""

    spec: ChildSpec
    policy: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    running_on_spawn: bool = False
    after_ready: bool = False  # started once the app is usable: off the start-up critical path


class Component:
    """One supervised child process; :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        settings: ComponentSettings,
        on_change: ChangeHook,
        records: ProcessRecords | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.spec.name
        self.status = ComponentStatus(component=self.name, state="stopped")
        self.child: Child | None = None
        self._on_change = on_change
        self._records = records
        self._backoff = Backoff(settings.policy)
        self._stopping = asyncio.Event()
        self._running_since: float | None = None
        self.first: EarlyChild | None = None  # started before the loop: its first run adopts it

    async def _update(self, **changes: Any) -> None:
        self.status = msgspec.structs.replace(self.status, **changes)
        await self._on_change(self.status)

    async def run(self) -> None:
        """Keep the process up until :meth:`stop`, or until it crash-loops (state ``error``)."""
        while not self._stopping.is_set():
            child = await self._start()
            if self._stopping.is_set():  # stop() came while it was being spawned
                await child.terminate(STOP_RACE_GRACE)
                self._forget(child)
                await self._update(state="stopped", pid=None, url=None, started_at=None)
                return
            code = await child.reaped()  # its output is read to the end, for a diagnosis
            self._forget(child)
            if self._stopping.is_set():
                return
            uptime = self._uptime()
            delay = None if is_permanent(code) else self._backoff.on_exit(time.monotonic(), uptime)
            if delay is None:
                await self._give_up(child, code)
                return
            log.warning(
                "component_exited",
                component=self.name,
                component_pid=child.pid,
                exit=describe_exit(code),
            )
            await self._update(
                state="starting",
                pid=None,
                started_at=None,
                restarts=self.status.restarts + 1,
                reason=describe_exit(code),
                exit_code=code,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _start(self) -> Child:
        self._running_since = None
        first, self.first = self.first, None
        child = await (Child.spawn(self.settings.spec) if first is None else Child.adopt(first))
        self.child = child
        if self._records is not None:
            self._records.add(self.name, child.pid)
        await self._update(state="starting", pid=child.pid, url=None, started_at=time.time())
        if self.settings.running_on_spawn:
            await self.mark_running()
        return child

    def _forget(self, child: Child) -> None:
        if self._records is not None:
            self._records.remove(child.pid)

    def _uptime(self) -> float | None:
        if self._running_since is None:
            return None
        return time.monotonic() - self._running_since

    async def _give_up(self, child: Child, code: int) -> None:
        tail = "\n".join(child.tail(DIAGNOSIS_LINES))
        why = "cannot run as configured" if is_permanent(code) else "crash loop"
        reason = f"{why}, gave up: {describe_exit(code)}"
        log.error(
            "component_gave_up",
            component=self.name,
            component_pid=child.pid,
            exit=describe_exit(code),
            tail=tail,
        )
        await self._update(
            state="error",
            pid=None,
            started_at=None,
            reason=f"{reason}; last output:\n{tail}" if tail else reason,
            exit_code=code,
        )

    async def mark_running(self, url: str | None = None) -> None:
        """The component says it serves (``url``: where, for the frontend)."""
        child = self.child
        if child is None or not child.running or self._stopping.is_set():
            return
        if self._running_since is None:
            self._running_since = time.monotonic()
        url = url or self.status.url
        if (self.status.state, self.status.pid, self.status.url) == ("running", child.pid, url):
            return  # no change: nothing to publish
        # Running again: an earlier exit's reason and status are history, not its state.
        await self._update(state="running", pid=child.pid, url=url, reason=None, exit_code=None)

    async def stop(self, grace: float, *, asked: bool = False) -> int | None:
        """Stop for good: SIGTERM → wait ``grace`` → SIGKILL; the exit status (None: not running).

        ``asked``: it was told to stop already, so wait ``grace`` for it before the SIGTERM.
        """
        self._stopping.set()
        child = self.child
        if child is None or not child.running:
            if self.status.state != "error":
                await self._update(state="stopped", pid=None, url=None, started_at=None)
            return None
        await self._update(state="stopping")
        if asked:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await child.wait()
        code = await child.terminate(grace)
        reason = None if code == 0 else f"stopped with {describe_exit(code)}"
        await self._update(
            state="stopped", pid=None, exit_code=code, url=None, reason=reason, started_at=None
        )
        return code

    def kill(self) -> None:
        """SIGKILL the process group now (a second Ctrl-C)."""
        self._stopping.set()
        if self.child is not None:
            self.child.kill()
