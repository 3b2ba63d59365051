"""``ctxbus status --follow``: every change of the backend and the components, as it happens.

Two Clone-pattern followers run side by side: ``backend.status`` (snapshot from main's
``get_status``, gaps re-synced, main's heartbeat says when it is gone and back) and
``component.status`` (:class:`bus.KeyedFollower`: snapshot from the launcher's ``get_components``,
one line per component).
With ``--json`` each update is one line: ``{"topic": ..., "kind": ..., "event": {...}|null}``,
``kind`` being one of ``snapshot``, ``event``, ``resync``, ``lost``, ``back``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TypeVar, cast

from rich.markup import escape

from bus import (
    LAUNCHER_BEAT,
    MAIN_BEAT,
    AsyncRequester,
    BackendStatus,
    ComponentStatus,
    Event,
    KeyedFollower,
    KeyedSnapshot,
    StateFollower,
    Update,
    endpoints,
)
from bus.endpoints import ABSENT_PEER_TIMEOUT, REQUEST_RETRIES, REQUEST_TIMEOUT
from bus.ops import LauncherOps, MainOps
from services.cli.commands import backend_reason, backend_state
from services.cli.context import Context
from services.foundation.dashboard import read_host, without_foreign_url
from services.foundation.terminal import styled

E = TypeVar("E", bound=Event)


OWNERS = {endpoints.BACKEND_STATUS: "main", endpoints.COMPONENT_STATUS: "the launcher"}


def describe(topic: str, update: Update[E]) -> str:
    """One human line for an update."""
    stamp = time.strftime("%H:%M:%S")
    owner = OWNERS.get(topic, topic)
    if update.kind == "lost":
        return f"{stamp} [bold red]{owner} is gone[/] (no heartbeat for {MAIN_BEAT.liveness:g} s)"
    if update.kind == "back":
        return f"{stamp} [green]{owner} is back[/]"
    event = update.event
    reason = getattr(event, "reason", None)
    if isinstance(event, BackendStatus):
        text = f"backend {backend_state(event)} pid {event.pid or '-'} port {event.port}"
        text += f" restarts {event.restarts}"
        reason = backend_reason(event) or reason  # a running one's past reason is history
    elif isinstance(event, ComponentStatus):
        text = f"{escape(event.component)} {styled(event.state)} pid {event.pid or '-'}"
        text += f" restarts {event.restarts}" + (f" {escape(event.url)}" if event.url else "")
    else:
        text = topic
    seq = event.seq if event is not None else 0
    note = "" if update.kind == "event" else f" ({update.kind})"
    shown = f" [dim]({escape(reason)})[/]" if reason else ""  # event text is data, never markup
    return f"{stamp} {text}{shown} seq {seq}{note}"


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
        self.seen_launcher = False
        self.launcher = AsyncRequester(ctx.endpoints.launcher, timeout=REQUEST_TIMEOUT, retries=1)

    async def backend_snapshot(self) -> BackendStatus:
        """main's state; one short attempt while its socket file is missing (so "lost" at once)."""
        missing = not self.ctx.may_listen(endpoints.CONTROL)
        requester = self.absent_control if missing else self.control
        return await requester.call(MainOps.GET_STATUS)

    async def component_snapshot(self) -> KeyedSnapshot[ComponentStatus]:
        """The launcher's snapshot: every component's latest state and the topic's seq."""
        listing = await self.launcher.call(LauncherOps.GET_COMPONENTS)
        return KeyedSnapshot(listing.seq, listing.instance, listing.components)

    def note(self, text: str) -> None:
        """A remark on stderr, never in the output (``--json`` stays one JSON per line)."""
        self.ctx.out.errors.print(f"ctxbus: {text}", markup=False, highlight=False)

    def checked(self, update: Update[E]) -> Update[E]:
        """``update`` without a ``url`` that is not a ctxbus component's (events are hints)."""
        event = update.event
        if not isinstance(event, ComponentStatus):
            return update
        shown = without_foreign_url(event, read_host(self.ctx.endpoints), self.note)
        return update if shown is event else cast(Update[E], Update(update.kind, shown))

    def show(self, topic: str, update: Update[E]) -> None:
        update = self.checked(update)
        if topic == endpoints.COMPONENT_STATUS:
            if update.event is None and not self.seen_launcher:
                return  # `ctxbus main` alone: no launcher to miss
            self.seen_launcher = self.seen_launcher or update.event is not None
        if self.ctx.out.json_mode:
            self.ctx.out.data({"topic": topic, "kind": update.kind, "event": update.event})
        elif topic == endpoints.BACKEND_STATUS and update.kind == "lost" and not self.seen_main:
            stamp = time.strftime("%H:%M:%S")
            self.ctx.out.say(f"{stamp} [bold red]main is not running[/]; waiting for it to start")
        else:
            self.ctx.out.say(describe(topic, update))
        if topic == endpoints.BACKEND_STATUS and update.event is not None:
            self.seen_main = True

    async def follow(self, follower: StateFollower[E] | KeyedFollower[E]) -> None:
        async for update in follower.updates():
            self.show(follower.topic, update)

    async def run(self) -> None:
        backend = StateFollower(
            self.ctx.endpoints.events,
            endpoints.BACKEND_STATUS,
            BackendStatus,
            self.backend_snapshot,
            heartbeat=MAIN_BEAT,
        )
        parts = KeyedFollower(
            self.ctx.endpoints.events,
            endpoints.COMPONENT_STATUS,
            ComponentStatus,
            _component_key,
            self.component_snapshot,
            heartbeat=LAUNCHER_BEAT,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(self.follow(backend))
            group.create_task(self.follow(parts))


def _component_key(status: ComponentStatus) -> str:
    return status.component


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
