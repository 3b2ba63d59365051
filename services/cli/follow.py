"""``ctxbus status --follow``: every change of the backend and the components, as it happens.

Two Clone-pattern followers run side by side: ``backend.status`` (snapshot from main's
``get_status``, gaps re-synced, main's heartbeat says when it is gone and back) and
``component.status`` (snapshot from the launcher's ``get_components``, one line per component).
With ``--json`` each update is one line: ``{"topic": ..., "kind": ..., "event": {...}|null}``,
``kind`` being one of ``snapshot``, ``event``, ``resync``, ``lost``, ``back``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TypeVar

from bus import (
    AsyncRequester,
    BackendStatus,
    ComponentStatus,
    Event,
    HeartbeatRule,
    StateFollower,
    Update,
    endpoints,
)
from bus.endpoints import ABSENT_PEER_TIMEOUT, REQUEST_RETRIES, REQUEST_TIMEOUT
from bus.ops import LauncherOps, MainOps
from services.cli.context import Context
from services.foundation.terminal import styled

E = TypeVar("E", bound=Event)


def describe(topic: str, update: Update[E]) -> str:
    """One human line for an update."""
    stamp = time.strftime("%H:%M:%S")
    liveness = HeartbeatRule().liveness
    if update.kind == "lost":
        return f"{stamp} [bold red]main is gone[/] (no heartbeat for {liveness:g} s)"
    if update.kind == "back":
        return f"{stamp} [green]main is back[/]"
    event = update.event
    if isinstance(event, BackendStatus):
        text = f"backend {styled(event.state)} pid {event.pid or '-'} port {event.port}"
        text += f" restarts {event.restarts}"
    elif isinstance(event, ComponentStatus):
        text = f"{event.component} {styled(event.state)} pid {event.pid or '-'}"
        text += f" restarts {event.restarts}" + (f" {event.url}" if event.url else "")
    else:
        text = topic
    reason = getattr(event, "reason", None)
    seq = event.seq if event is not None else 0
    note = "" if update.kind == "event" else f" ({update.kind})"
    return f"{stamp} {text}" + (f" [dim]({reason})[/]" if reason else "") + f" seq {seq}{note}"


class Follow:
    """The two followers and the printing."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.control = AsyncRequester(
            ctx.endpoints.control, timeout=REQUEST_TIMEOUT, retries=REQUEST_RETRIES
        )
        self.absent_control = AsyncRequester(
            ctx.endpoints.control, timeout=ABSENT_PEER_TIMEOUT, retries=1
        )
        self.seen_main = False
        self.launcher = AsyncRequester(ctx.endpoints.launcher, timeout=REQUEST_TIMEOUT, retries=1)
        self.components: list[ComponentStatus] = []

    async def backend_snapshot(self) -> BackendStatus:
        """main's state; one short attempt while its socket file is missing (so "lost" at once)."""
        missing = not self.ctx.may_listen(endpoints.CONTROL)
        requester = self.absent_control if missing else self.control
        return await requester.call(MainOps.GET_STATUS)

    async def component_snapshot(self) -> ComponentStatus:
        """The launcher's snapshot: every component is kept for printing, the newest returned."""
        listing = await self.launcher.call(LauncherOps.GET_COMPONENTS)
        self.components = sorted(listing.components, key=lambda c: c.seq)
        if self.components:
            return self.components[-1]
        return ComponentStatus(
            component="", state="stopped", seq=listing.seq, instance=listing.instance
        )

    def show(self, topic: str, update: Update[E]) -> None:
        if self.ctx.out.json_mode:
            self.ctx.out.data({"topic": topic, "kind": update.kind, "event": update.event})
        elif topic == endpoints.BACKEND_STATUS and update.kind == "lost" and not self.seen_main:
            stamp = time.strftime("%H:%M:%S")
            self.ctx.out.say(f"{stamp} [bold red]main is not running[/]; waiting for it to start")
        else:
            self.ctx.out.say(describe(topic, update))
        if topic == endpoints.BACKEND_STATUS and update.event is not None:
            self.seen_main = True

    async def follow(self, follower: StateFollower[E]) -> None:
        async for update in follower.updates():
            self.show(follower.topic, update)

    async def follow_components(self, follower: StateFollower[ComponentStatus]) -> None:
        """Like :meth:`follow`, but a snapshot shows every component, oldest change first."""
        async for update in follower.updates():
            if update.kind in ("snapshot", "resync"):
                for component in self.components:
                    self.show(follower.topic, Update(update.kind, component))
            else:
                self.show(follower.topic, update)

    async def run(self) -> None:
        backend = StateFollower(
            self.ctx.endpoints.events,
            endpoints.BACKEND_STATUS,
            BackendStatus,
            self.backend_snapshot,
            heartbeat=HeartbeatRule(),
        )
        parts = StateFollower(
            self.ctx.endpoints.events,
            endpoints.COMPONENT_STATUS,
            ComponentStatus,
            self.component_snapshot,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(self.follow(backend))
            group.create_task(self.follow_components(parts))


async def follow_status(ctx: Context) -> int:
    """Follow until SIGINT/SIGTERM; exit status 0."""
    task = asyncio.ensure_future(Follow(ctx).run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        return 0
    return 0
