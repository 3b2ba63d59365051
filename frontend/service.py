"""The frontend process: find the backend through main, follow the bus, serve the dashboard.

Start order: ask main for the port (waiting for main up to a deadline), bind the dashboard socket,
then run the ``backend.status`` follower, the topic relay and uvicorn side by side until a signal;
once uvicorn has started, announce the URL (:mod:`frontend.announce`), then open the backend link
(:mod:`frontend.backend_link`: httpx, which nothing before needs).
"""

from __future__ import annotations

import asyncio
import signal

import structlog
import uvicorn

from bus import AsyncRequester, BackendStatus, PortInfo, endpoints
from bus.messages import ComponentList
from bus.ops import LauncherOps, MainOps
from frontend.announce import print_line, tell_launcher
from frontend.app import AppParts, create_app
from frontend.backend_link import BackendLink, wait_for_main
from frontend.events import (
    EventHub,
    backend_follower,
    components_follower,
    follow_backend,
    follow_components,
    forward_topics,
)
from frontend.gate import TokenGate
from frontend.secret import run_secret
from frontend.server import DashboardServer, bind_socket
from frontend.settings import FrontendSettings
from services.foundation import gc_pause
from services.foundation.dashboard import dashboard_host
from services.foundation.supervision.lifeline import install_from_env

log = structlog.get_logger("frontend")

ANNOUNCED_WAIT = 0.5  # seconds the backend link waits at most for the launcher to take the URL


class Frontend:
    """One frontend process's parts and its run loop."""

    def __init__(self, settings: FrontendSettings) -> None:
        self.settings = settings
        self.control = AsyncRequester(settings.endpoints.control)
        self.launcher = AsyncRequester(settings.endpoints.launcher)
        self.components = AsyncRequester(  # one short attempt: no launcher when run alone
            settings.endpoints.launcher, timeout=endpoints.OPTIONAL_PEER_TIMEOUT, retries=1
        )
        self.capture = AsyncRequester(settings.endpoints.capture)
        self.backend = BackendLink(settings.endpoints, self.control)
        self.hub = EventHub()
        self.stopping = asyncio.Event()
        self._announcements: set[asyncio.Task[None]] = set()

    async def get_status(self) -> BackendStatus:
        return await self.control.call(MainOps.GET_STATUS)

    async def get_components(self) -> ComponentList:
        return await self.components.call(LauncherOps.GET_COMPONENTS)

    def on_new_url(self, url: str) -> None:
        """The login token was used: publish the URL with the next one."""
        print_line("url", url)
        self._announce(url)

    def _announce(self, url: str) -> None:
        if self.settings.announce:
            task = asyncio.get_running_loop().create_task(tell_launcher(self.launcher, url))
            self._announcements.add(task)
            task.add_done_callback(self._announcements.discard)

    async def run(self) -> None:
        """Serve until :attr:`stopping` is set (which may come while it still waits for main)."""
        try:
            info = await self._connect_or_stop()
            if info is None:
                log.info("stopped_before_main_answered")
                return
            log.info("backend_found", port=info.port, state=info.state)
            await self._serve()
        finally:
            await self.backend.aclose()
            for requester in (self.control, self.launcher, self.components, self.capture):
                requester.close()

    async def _serve(self) -> None:
        """Bind the dashboard socket, serve, and relay the bus until :attr:`stopping` is set."""
        sock = bind_socket(self.settings.port)
        gate = TokenGate(
            sock.getsockname()[1],
            run_secret(self.settings.endpoints),
            dashboard_host(self.settings.endpoints),
            self.on_new_url,
            limits=self.settings.sessions,
        )
        parts = AppParts(
            gate=gate,
            hub=self.hub,
            backend=self.backend,
            control=self.control,
            capture=self.capture,
            max_body=self.settings.max_body,
        )
        config = uvicorn.Config(
            create_app(parts), log_config=None, access_log=False, lifespan="off"
        )
        server = DashboardServer(config)
        try:
            async with asyncio.TaskGroup() as group:
                serving = group.create_task(server.serve(sockets=[sock]))
                follower = backend_follower(self.settings.endpoints.events, self.get_status)
                rows = components_follower(self.settings.endpoints.events, self.get_components)
                relays = [
                    group.create_task(follow_backend(self.hub, follower, self.backend.observe)),
                    group.create_task(forward_topics(self.hub, self.settings.endpoints.events)),
                    group.create_task(follow_components(self.hub, rows, gate.host)),
                ]
                await self._until_served(server, serving, gate)
                relays.append(group.create_task(self._open_link()))
                await self.stopping.wait()
                log.info("stopping")
                self.hub.close()
                server.stop()
                for task in relays:
                    task.cancel()
        finally:
            sock.close()

    async def _connect_or_stop(self) -> PortInfo | None:
        """Main's port, or ``None`` if stopped first; ``TimeoutError`` at the deadline."""
        connecting = asyncio.ensure_future(wait_for_main(self.control, self.settings.main_deadline))
        stopped = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait([connecting, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (connecting, stopped):
                task.cancel()
            await asyncio.gather(connecting, stopped, return_exceptions=True)
        if connecting.cancelled():
            return None
        return connecting.result()

    async def _until_served(
        self, server: DashboardServer, serving: asyncio.Task[None], gate: TokenGate
    ) -> None:
        waiter = asyncio.ensure_future(server.serving.wait())
        await asyncio.wait([waiter, serving], return_when=asyncio.FIRST_COMPLETED)
        if not server.serving.is_set():
            waiter.cancel()
            raise RuntimeError("the dashboard server ended before it served")
        log.info("serving", port=gate.port)
        print_line("ready", gate.url)
        self._announce(gate.url)

    async def _open_link(self) -> None:
        """Open the backend link once the launcher has the URL (or :data:`ANNOUNCED_WAIT`); then
        the start-up is over: collect garbage again (:mod:`services.foundation.gc_pause`), after
        its delay, so that the full pass does not fall on the backend's last steps before ready."""
        try:
            if self._announcements:
                await asyncio.wait(self._announcements, timeout=ANNOUNCED_WAIT)
            await self.backend.open()
        finally:
            self.backend.give_up()  # stopping first: no /api request waits for it forever
        gc_pause.resume_later(asyncio.get_running_loop())


async def run_frontend(settings: FrontendSettings) -> None:
    """Run a frontend until SIGINT or SIGTERM."""
    frontend = Frontend(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, frontend.stopping.set)
    install_from_env(on_parent_gone=frontend.stopping.set)  # end with the launcher
    await frontend.run()
