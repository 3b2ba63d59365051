"""main: the bus hub (control replies, event proxy, heartbeats) around the backend supervisor."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
from collections.abc import Awaitable, Callable

import structlog

from bus import (
    Accepted,
    BackendStatus,
    Endpoints,
    Heartbeat,
    MainOps,
    NoArgs,
    PingResult,
    PortInfo,
    Proxy,
    Publisher,
    Replier,
    ensure_runtime_dir,
    new_instance_id,
)
from bus import endpoints as names
from services.foundation import gc_pause
from services.foundation.supervision import InstanceLock, ProcessRecords
from services.foundation.supervision.lifeline import install_from_env
from services.main.early import EarlyStart
from services.main.port import bind_backend_socket
from services.main.settings import MainSettings
from services.main.supervisor import BackendSupervisor

log = structlog.get_logger(__name__)


class MainService:
    """One main process: call :meth:`run`; it returns after a clean shutdown."""

    def __init__(self, settings: MainSettings, early: EarlyStart | None = None) -> None:
        self.settings = settings
        self.early = early  # the lock, port and first backend claimed before the loop, if any
        self.instance = early.instance if early is not None else new_instance_id()
        self.started = time.monotonic()
        self.endpoints = Endpoints.from_env(settings.runtime_dir)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Take the runtime dir, bind everything, supervise until SIGINT/SIGTERM or ``shutdown``."""
        ensure_runtime_dir(self.settings.runtime_dir)
        early = self.early
        lock = (
            early.lock
            if early
            else InstanceLock(self.endpoints.file(names.MAIN_LOCK), "ctxbus main")
        )
        with lock:  # taken before the loop (.early), or now
            await self._run_locked()

    async def _run_locked(self) -> None:
        records = ProcessRecords(self.endpoints.file(names.MAIN_RECORDS))
        for stale in await asyncio.to_thread(records.end_stale):
            log.warning("ended_stale_process", stale_pid=stale.pid, name=stale.name)
        early = self.early
        sock = self._backend_socket()
        proxy = Proxy(self.endpoints.publish, self.endpoints.events)
        # main's events go straight out of the proxy's XPUB: no hop for the state it owns.
        self.publisher = Publisher(self.endpoints.publish, instance=self.instance, send=proxy.send)
        self.supervisor = BackendSupervisor(
            self.settings,
            sock,
            token=early.token if early is not None else secrets.token_urlsafe(32),
            instance=self.instance,
            publish=self._publish_status,
            records=records,
            first=early.backend if early is not None else None,
        )
        replier = self._replier()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        # Started by the launcher: if it dies, stop as on SIGTERM (the backend first).
        install_from_env(self._launcher_gone, kernel_signal=False)
        try:
            async with asyncio.TaskGroup() as tasks:
                proxy_task = tasks.create_task(proxy.run())
                await proxy.wait_bound()
                replier.bind()
                serving = tasks.create_task(replier.serve())
                beating = tasks.create_task(
                    self.publisher.heartbeat(names.MAIN_HEARTBEAT, self._beat)
                )
                on_signal = tasks.create_task(self._stop_on_signal())
                runtime_dir = str(self.endpoints.runtime_dir)
                log.info(
                    "main_ready",
                    port=self.supervisor.port,
                    runtime_dir=runtime_dir,
                    # its first backend: started before its exec, before its loop, or now
                    first_backend=(
                        "before_exec"
                        if early is not None and early.handed_over
                        else "before_loop"
                        if early is not None
                        else "from_loop"
                    ),
                )
                await self.supervisor.run()
                await replier.drain()
                for task in (on_signal, serving, beating):
                    task.cancel()
                proxy_task.cancel()  # its XPUB lingers: the last events still reach subscribers
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self.publisher.close()
            sock.close()
        log.info("main_stopped")

    def _backend_socket(self) -> socket.socket:
        """The backend's port: bound before the loop (:mod:`.early`), else bound now."""
        wanted = self.settings.port
        if self.early is not None:
            sock = self.early.sock
        else:
            sock = bind_backend_socket(
                names.LOOPBACK_HOST, wanted, pinned=self.settings.port_pinned
            )
        if wanted and sock.getsockname()[1] != wanted:
            log.info("port_taken_using_free_port", wanted=wanted)
        return sock

    def _launcher_gone(self) -> None:
        log.warning("launcher_gone_stopping")
        self._stop.set()

    async def _stop_on_signal(self) -> None:
        await self._stop.wait()
        log.info("stop_requested")
        await self.supervisor.shutdown()

    async def _publish_status(self, status: BackendStatus) -> None:
        await self.publisher.publish(names.BACKEND_STATUS, status)
        if status.state == "running":  # the start is over: collect again (python -m services.main)
            gc_pause.resume_later(asyncio.get_running_loop())

    def _beat(self) -> Heartbeat:
        return Heartbeat(backend_seq=self.publisher.seq(names.BACKEND_STATUS))

    # -- ops -------------------------------------------------------------------------------------

    def _replier(self) -> Replier:
        replier = Replier(self.endpoints.control)
        replier.register(MainOps.PING, self.op_ping)
        replier.register(MainOps.GET_PORT, self.op_get_port)
        replier.register(MainOps.GET_STATUS, self.op_get_status)
        replier.register(MainOps.RESTART_BACKEND, self._command("restart"))
        replier.register(MainOps.STOP_BACKEND, self._command("stop"))
        replier.register(MainOps.START_BACKEND, self._command("start"))
        replier.register(MainOps.SHUTDOWN, self.op_shutdown)
        return replier

    async def op_ping(self, _: NoArgs) -> PingResult:
        uptime = time.monotonic() - self.started
        return PingResult(pid=os.getpid(), instance=self.instance, uptime_s=uptime)

    async def op_get_port(self, _: NoArgs) -> PortInfo:
        sup = self.supervisor
        return PortInfo(port=sup.port, base_url=sup.base_url, token=sup.token, state=sup.state)

    async def op_get_status(self, _: NoArgs) -> BackendStatus:
        latest = self.publisher.latest(names.BACKEND_STATUS)
        if isinstance(latest, BackendStatus):
            return latest
        sup = self.supervisor
        return BackendStatus(state=sup.state, port=sup.port, instance=self.instance, ts=time.time())

    def _command(self, name: str) -> Callable[[NoArgs], Awaitable[Accepted]]:
        async def op(_: NoArgs) -> Accepted:
            await self.supervisor.command(name)
            return Accepted()

        return op

    async def op_shutdown(self, _: NoArgs) -> Accepted:
        await self.supervisor.shutdown()
        return Accepted()
