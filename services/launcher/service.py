"""``ctxbus up``: start main, the frontend and capture, report when the app is usable, shut down.

One loop, as the house style asks: signal handlers only set events; ``handle_*`` methods do the
work. Ready means: the backend is ``running`` (``backend.status``, followed with the Clone pattern)
and the frontend announced its URL (the ``announce`` op); then one line with the URL. Ctrl-C or
SIGTERM (or the ``shutdown`` op) → stop the frontend and capture, ask main to ``shutdown`` and wait
for it; a second Ctrl-C kills every process below the launcher at once and waits until they are
gone.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import structlog

from bus import (
    MAIN_BEAT,
    Accepted,
    AsyncRequester,
    BackendStatus,
    ComponentStatus,
    Endpoints,
    LauncherHeartbeat,
    NoArgs,
    Publisher,
    Replier,
    StateFollower,
    curve,
    endpoints,
)
from bus.messages import ComponentList
from bus.ops import LauncherOps, MainOps
from services.foundation import gc_pause
from services.foundation.config import Config
from services.foundation.dashboard import read_host, without_foreign_url
from services.foundation.supervision import (
    InstanceLock,
    ProcessRecords,
    kill_descendants,
    wait_gone,
)
from services.launcher.component import Component
from services.launcher.early import EarlyLaunch
from services.launcher.report import Report
from services.launcher.specs import component_settings

if TYPE_CHECKING:
    import psutil

log = structlog.get_logger(__name__)

READY_DEADLINE = 60.0  # seconds from start until the app must be usable
CLIENT_GRACE = 5.0  # frontend/capture: SIGTERM → this long → SIGKILL
MAIN_GRACE = 15.0  # main stops its backend (up to 10 s) before it exits
FORCED_EXIT = 130  # a second Ctrl-C: everything was killed, not stopped in order
FORCED_WAIT = 5.0  # seconds a forced stop waits for the killed processes to go


class Launcher:
    """The launcher process's state and loop."""

    def __init__(
        self,
        config: Config,
        bus: Endpoints,
        report: Report,
        *,
        open_browser: bool = False,
        early: EarlyLaunch | None = None,
    ) -> None:
        self.config = config
        self.early = early  # the lock and main, claimed and started before the loop, if any
        self.open_browser = open_browser
        self.bus = bus
        self.report = report
        self.publisher = Publisher(bus.publish)
        self.control = AsyncRequester(bus.control)
        self.records = ProcessRecords(bus.file(endpoints.LAUNCHER_RECORDS))
        self.components = {
            settings.spec.name: Component(settings, self.publish_status, self.records)
            for settings in component_settings(config)
        }
        if early is not None:
            self.components[endpoints.COMPONENT_MAIN].first = early.main
        self.latest: dict[str, ComponentStatus] = {}
        self.backend: BackendStatus | None = None
        self.backend_running = asyncio.Event()
        self.frontend_url: str | None = None
        self.frontend_ready = asyncio.Event()
        self.failed = asyncio.Event()
        self.shutdown_requested = asyncio.Event()
        self.signals = 0
        self.killed: list[psutil.Process] = []  # by a second Ctrl-C: every process below us

    # -- bus ---------------------------------------------------------------------------------------

    async def publish_status(self, status: ComponentStatus) -> None:
        before = self.latest.get(status.component)
        self.publisher.connect()
        self.latest[status.component] = await self.publisher.publish(
            endpoints.COMPONENT_STATUS, status
        )
        self.tell(before, status)
        if status.state == "error" and status.component in (
            endpoints.COMPONENT_MAIN,
            endpoints.COMPONENT_FRONTEND,
        ):
            self.failed.set()

    def tell(self, before: ComponentStatus | None, now: ComponentStatus) -> None:
        """A component restarted or given up is news for the person at the terminal."""
        if now.state == "error" and (before is None or before.state != "error"):
            self.report.gave_up(now)
        elif now.restarts > (before.restarts if before is not None else 0):
            self.report.restarting(now)

    def _beat(self) -> LauncherHeartbeat:
        return LauncherHeartbeat(component_seq=self.publisher.seq(endpoints.COMPONENT_STATUS))

    def replier(self) -> Replier:
        replier = Replier(self.bus.launcher)
        replier.register(LauncherOps.GET_STATUS, self.op_get_status)
        replier.register(LauncherOps.GET_COMPONENTS, self.op_get_components)
        replier.register(LauncherOps.ANNOUNCE, self.op_announce)
        replier.register(LauncherOps.SHUTDOWN, self.op_shutdown)
        return replier

    async def op_get_status(self, _: NoArgs) -> ComponentStatus:
        latest = self.publisher.latest(endpoints.COMPONENT_STATUS)
        if isinstance(latest, ComponentStatus):
            return latest
        return ComponentStatus(
            component=endpoints.COMPONENT_MAIN,
            state="stopped",
            instance=self.publisher.instance,
            seq=0,
        )

    async def op_get_components(self, _: NoArgs) -> ComponentList:
        return ComponentList(
            seq=self.publisher.seq(endpoints.COMPONENT_STATUS),
            instance=self.publisher.instance,
            components=[self.latest[name] for name in self.components if name in self.latest],
        )

    async def op_announce(self, status: ComponentStatus) -> Accepted:
        component = self.components.get(status.component)
        if component is None:
            return Accepted(accepted=False)
        status = without_foreign_url(status, read_host(self.bus))  # anyone may call announce
        await component.mark_running(status.url)
        if status.component == endpoints.COMPONENT_FRONTEND and status.url:
            self.frontend_url = status.url
            self.frontend_ready.set()
        return Accepted()

    async def op_shutdown(self, _: NoArgs) -> Accepted:
        self.shutdown_requested.set()
        return Accepted()

    async def get_backend_status(self) -> BackendStatus:
        return await self.control.call(MainOps.GET_STATUS)

    async def watch_backend(self) -> None:
        """Follow ``backend.status``: main runs once it answers; the backend once it says so."""
        follower = StateFollower(
            self.bus.events,
            endpoints.BACKEND_STATUS,
            BackendStatus,
            self.get_backend_status,
            heartbeat=MAIN_BEAT,
        )
        async for update in follower.updates():
            if update.event is None:
                continue
            self.backend = update.event
            await self.components[endpoints.COMPONENT_MAIN].mark_running()
            if update.event.state == "running":
                self.backend_running.set()
            elif update.event.state == "error" and not self.backend_running.is_set():
                self.failed.set()  # main gave up on the backend before it ever ran

    # -- the loop ----------------------------------------------------------------------------------

    def handle_signal(self) -> None:
        self.signals += 1
        if self.signals == 1:
            self.report.stopping()
            self.shutdown_requested.set()
        else:
            self.report.forcing()
            for component in self.components.values():
                component.kill()
            self.killed += kill_descendants()  # main's backends too: they have groups of their own

    async def run(self) -> int:
        """Start everything, report readiness, run until asked to stop; the exit status."""
        try:
            with self._lock():
                for stale in await asyncio.to_thread(self.records.end_stale):
                    log.warning("ended_stale_process", stale_pid=stale.pid, name=stale.name)
                if self.bus.transport == "tcp":
                    curve.new_run(self.bus.runtime_dir)  # this run's own keys
                return await self._run_locked()
        finally:
            self.publisher.close()
            self.control.close()

    def _lock(self) -> InstanceLock:
        """The launcher lock: taken before the loop (:mod:`.early`), or now (it enters it)."""
        if self.early is not None:
            return self.early.lock
        return InstanceLock(self.bus.file(endpoints.LAUNCHER_LOCK), "ctxbus launcher")

    async def _run_locked(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.handle_signal)
        replier = self.replier()
        replier.bind()
        code = 0
        async with asyncio.TaskGroup() as group:
            serving = group.create_task(replier.serve())
            watching = group.create_task(self.watch_backend())
            beating = group.create_task(
                self.publisher.heartbeat(endpoints.LAUNCHER_HEARTBEAT, self._beat)
            )
            early = [c for c in self.components.values() if not c.settings.after_ready]
            for component in early:
                group.create_task(component.run())
            if await self.handle_startup():
                for component in self.components.values():
                    if component.settings.after_ready:
                        group.create_task(component.run())
                if self.open_browser and self.frontend_url:
                    import webbrowser  # here: only --open needs it (0.7 MB RSS)

                    group.create_task(asyncio.to_thread(webbrowser.open, self.frontend_url))
                await self.shutdown_requested.wait()
            elif not self.shutdown_requested.is_set():
                code = 1
            if not await self.handle_shutdown():
                code = 1
            for task in (watching, beating, serving):
                task.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if self.signals > 1:
            left = await asyncio.to_thread(wait_gone, self.killed, FORCED_WAIT)
            if left:
                log.error("forced_stop_left_processes", pids=left)
            return FORCED_EXIT
        return code

    async def handle_startup(self) -> bool:
        """Wait until ready (True), a failure, a stop request or the deadline (False)."""
        ready = asyncio.ensure_future(self._ready())
        stop = asyncio.ensure_future(self.shutdown_requested.wait())
        failed = asyncio.ensure_future(self.failed.wait())
        done, pending = await asyncio.wait(
            [ready, stop, failed], timeout=READY_DEADLINE, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if ready in done:
            assert self.frontend_url is not None
            self.report.ready(self.frontend_url, self.backend, self.latest)
            gc_pause.resume_later(asyncio.get_running_loop())  # paused in services.cli.main
            return True
        if not self.shutdown_requested.is_set():
            self.report.failed(list(self.latest.values()), self.backend, READY_DEADLINE)
        return False

    async def _ready(self) -> None:
        await self.backend_running.wait()
        await self.frontend_ready.wait()

    async def handle_shutdown(self) -> bool:
        """The clients first, then main (asked to ``shutdown``, then signalled if need be).

        True if every process ended as asked (status 0, or our SIGTERM), none needing a SIGKILL.
        """
        clients = [c for name, c in self.components.items() if name != endpoints.COMPONENT_MAIN]
        results = await asyncio.gather(*(c.stop(CLIENT_GRACE) for c in clients))
        codes = {c.name: code for c, code in zip(clients, results, strict=True)}
        main = self.components[endpoints.COMPONENT_MAIN]
        asked = await self._ask_main_to_stop(main)
        codes[endpoints.COMPONENT_MAIN] = await main.stop(MAIN_GRACE, asked=asked)
        # -SIGTERM: a process that had not yet set up its handlers when our SIGTERM came
        # (capture, spawned a moment before a Ctrl-C): it ended as asked.
        clean = (0, None, -signal.SIGTERM)
        unclean = {name: code for name, code in codes.items() if code not in clean}
        self.report.stopped(unclean)
        return not unclean

    async def _ask_main_to_stop(self, main: Component) -> bool:
        """Send main ``shutdown``; True once it accepted (or exited meanwhile)."""
        child = main.child
        if child is None or not child.running:
            return False
        # main answers once its backend has stopped: one long attempt, cut short by its exit.
        requester = AsyncRequester(self.bus.control, timeout=MAIN_GRACE, retries=1)
        call = asyncio.ensure_future(requester.call(MainOps.SHUTDOWN))
        exited = asyncio.ensure_future(child.wait())
        try:
            await asyncio.wait([call, exited], return_when=asyncio.FIRST_COMPLETED)
            if call.done() and call.exception() is not None:
                log.warning("main_shutdown_unanswered", error=str(call.exception()))
                return False
            return True
        finally:
            call.cancel()
            exited.cancel()
            requester.close()


async def launch(
    config: Config,
    bus: Endpoints,
    report: Report,
    open_browser: bool,
    early: EarlyLaunch | None = None,
) -> int:
    """Run a launcher until it is stopped (adopting what ``early`` started); the exit status."""
    return await Launcher(config, bus, report, open_browser=open_browser, early=early).run()
