"""The backend supervisor: one loop that owns every decision about backend processes.

Everything that happens (a process became ready or exited, a health probe failed, a command
arrived) is put on a queue; the loop takes one item at a time and a ``handle_*`` method acts
on it, so no two decisions ever interleave. Nothing in here sleeps to wait.

Processes: ``active`` serves; ``incoming`` is starting up to replace it (first start, crash
recovery, planned restart); ``standby`` has imported the app and run its startup, and waits to
be promoted, which makes crash recovery a matter of milliseconds.

While none of them serves, each published state also goes to an :class:`UnavailableResponder`,
which answers the port with 503 itself (``stopped``, ``error``, or ``starting`` for too long).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from bus import OpError
from bus.endpoints import LOOPBACK_HOST
from bus.messages import BackendState, BackendStatus
from services.foundation.backend_contract import Role
from services.foundation.supervision import Backoff, ProcessRecords, describe_exit, is_permanent
from services.main.backend_launch import EarlyBackend, backend_config
from services.main.backend_process import BackendProcess
from services.main.decisions import GiveUp, Misses, after_crash, exit_kind, restart_plan
from services.main.health import HealthProbe
from services.main.settings import MainSettings
from services.main.unavailable import UnavailableResponder

log = structlog.get_logger(__name__)


class Ready(msgspec.Struct, frozen=True):
    proc: BackendProcess


class Exited(msgspec.Struct, frozen=True):
    proc: BackendProcess
    code: int


class Unresponsive(msgspec.Struct, frozen=True):
    proc: BackendProcess


class StartTimedOut(msgspec.Struct, frozen=True):
    proc: BackendProcess


class Command(msgspec.Struct, frozen=True):
    name: str  # start | stop | restart | shutdown | take_over | standby | health


Item = Ready | Exited | Unresponsive | StartTimedOut | Command


class BackendSupervisor:
    """Start, watch, restart and stop the backend; report each transition through ``publish``."""

    def __init__(
        self,
        settings: MainSettings,
        sock: socket.socket,
        *,
        token: str,
        instance: str,
        publish: Callable[[BackendStatus], Awaitable[None]],
        records: ProcessRecords | None = None,
        first: EarlyBackend | None = None,
    ) -> None:
        self._records = records
        self._first = first  # started before the loop (services.main.early): the first active
        self.settings = settings
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.base_url = f"http://{LOOPBACK_HOST}:{self.port}"
        self.token = token
        self.instance = instance
        self.active: BackendProcess | None = None
        self.incoming: BackendProcess | None = None
        self.standby: BackendProcess | None = None
        self.state: BackendState = "stopped"
        self._running_since: tuple[int | None, float] | None = None
        self.restarts = 0
        self._publish = publish
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._backoff = Backoff(settings.restart)
        self._standby_backoff = Backoff(settings.restart)
        self._kill_reasons: dict[int, str] = {}
        self._retiring: set[asyncio.Future[int]] = set()
        self._watchers: set[asyncio.Future[None]] = set()
        self._health = HealthProbe(
            LOOPBACK_HOST, self.port, settings.health_timeout, token=self.token
        )
        self._ended = asyncio.Event()
        self._unavailable = UnavailableResponder(sock, start_hold=settings.start_hold)

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the backend and supervise it until a ``shutdown`` command completes."""
        self.enqueue(Command("start"))
        async with asyncio.TaskGroup() as tasks:
            liveness = tasks.create_task(self._watch_liveness())
            try:
                while True:
                    item = await self._queue.get()
                    if await self._dispatch(item):
                        break
            finally:
                if self._first is not None:  # never needed (stopped before its start)
                    self._first.abandon()
                self._ended.set()
                liveness.cancel()
                await self._health.aclose()
                await self._unavailable.aclose()

    def enqueue(self, item: Item) -> None:
        self._queue.put_nowait(item)

    async def command(self, name: str) -> None:
        """Run a user command through the loop (validated first); returns once it is accepted."""
        if self.state == "stopping" and name != "shutdown":
            raise OpError("busy", "the backend is stopping; retry once it is stopped")
        self.enqueue(Command(name))

    async def shutdown(self) -> None:
        """Stop the backend and end :meth:`run`; returns when the backend is stopped.

        Any number of callers may ask (a signal and a ``shutdown`` op at once): the first
        request does the work, and every caller returns once :meth:`run` has ended.
        """
        if not self._ended.is_set():
            self.enqueue(Command("shutdown"))
            await self._ended.wait()

    async def _dispatch(self, item: Item) -> bool:
        match item:
            case Ready(proc):
                await self.handle_ready(proc)
            case Exited(proc, code):
                await self.handle_exit(proc, code)
            case Unresponsive(proc):
                self.handle_unresponsive(proc)
            case StartTimedOut(proc):
                await self.handle_start_timeout(proc)
            case Command("shutdown"):
                await self.handle_stop()
                return True
            case Command(name):
                await getattr(self, f"handle_{name}")()
        return False

    # -- handlers --------------------------------------------------------------------------------

    async def handle_start(self) -> None:
        """Start from ``stopped``/``error`` (a user's start forgets past crashes)."""
        if self.state in ("running", "starting"):
            return
        self._backoff.reset()
        self._standby_backoff.reset()
        self.state = "starting"
        await self._bring_up()
        await self._set("starting", reason="start requested", pid=self._pid_of(self.incoming))

    async def handle_restart(self) -> None:
        """Planned restart: bring up a replacement, then retire the old one gracefully."""
        plan = restart_plan(self.state, replacing=self.incoming is not None)
        if plan == "start":
            await self.handle_start()
        if plan != "replace":
            return
        self._backoff.reset()
        self.restarts += 1
        await self._bring_up()
        await self._set("starting", reason="restart requested", pid=self._pid_of(self.incoming))

    async def handle_take_over(self) -> None:
        """After a crash's backoff: bring up the next active process."""
        if self.state == "starting" and self.active is None and self.incoming is None:
            await self._bring_up()

    async def handle_ready(self, proc: BackendProcess) -> None:
        if proc is not self.incoming:
            return
        self._unavailable.leave_to_backend()  # its probe (and every request) is for it now
        if not await self._health.check():
            log.warning("ready_but_unhealthy", backend_pid=proc.pid)
            self._kill(proc, "unhealthy at start")
            return
        old, self.active, self.incoming = self.active, proc, None
        if old is not None:
            self._retire(old)
        await self._set("running", pid=proc.pid)
        await self.handle_standby()

    async def handle_exit(self, proc: BackendProcess, code: int) -> None:
        proc.release()
        try:
            await self._after_exit(proc, code)
        finally:  # bookkeeping after the replacement is on its way
            if self._records is not None:
                self._records.remove(proc.pid)

    async def _after_exit(self, proc: BackendProcess, code: int) -> None:
        kind = exit_kind(proc, active=self.active, incoming=self.incoming, standby=self.standby)
        if kind == "standby":
            self.standby = None
            uptime = proc.child.uptime if proc.serving else None
            self._schedule(self._standby_backoff.on_exit(time.monotonic(), uptime), "standby")
            log.warning("standby_exited", backend_pid=proc.pid, exit=describe_exit(code))
            return
        if kind == "retired":
            return
        uptime = proc.uptime if proc is self.active else None
        self.active = None if proc is self.active else self.active
        self.incoming = None if proc is self.incoming else self.incoming
        reason = self._kill_reasons.pop(proc.pid, None) or f"crashed ({describe_exit(code)})"
        delay = None if is_permanent(code) else self._backoff.on_exit(time.monotonic(), uptime)
        decision = after_crash(code, delay, reason, self.settings.restart)
        if isinstance(decision, GiveUp):
            await self._give_up(proc, code, decision.headline)
            return
        self.restarts += 1
        self.state = "starting"
        if decision.delay == 0:
            await self._bring_up()
        else:
            self._schedule(decision.delay, "take_over")
        await self._set(
            "starting", reason=decision.reason, exit_code=code, pid=self._pid_of(self.incoming)
        )

    def handle_unresponsive(self, proc: BackendProcess) -> None:
        if proc is self.active or proc is self.standby:
            log.warning("backend_unresponsive", backend_pid=proc.pid, role=proc.role)
            self._kill(proc, "unresponsive")

    async def handle_start_timeout(self, proc: BackendProcess) -> None:
        if proc is not self.incoming or proc.ready:
            return
        self.incoming = None
        reason = f"the backend did not become ready within {self.settings.start_timeout:g} s"
        self._retire(proc, grace=0)
        await self._set("error", reason=reason)

    async def handle_standby(self) -> None:
        """Keep one warm standby while the backend runs (when enabled)."""
        if not self.settings.standby or self.standby is not None or self.state != "running":
            return
        self.standby = await self._spawn("standby")

    async def handle_health(self) -> None:
        """The backend's own /health verdict changed while it runs: publish it (still running)."""
        if self.state == "running" and self._health.news():
            await self._set("running", pid=self._pid_of(self.active))

    async def handle_stop(self) -> None:
        """Stop every backend process gracefully; the port stays held."""
        if self.state == "stopped":
            return
        await self._set("stopping", reason="stop requested", pid=self._pid_of(self.active))
        procs = [p for p in (self.active, self.incoming, self.standby) if p is not None]
        self.active = self.incoming = self.standby = None
        for proc in procs:
            self._retire(proc)
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await self._set("stopped", reason="stopped on request", pid=None)

    # -- helpers ---------------------------------------------------------------------------------

    async def _bring_up(self) -> None:
        standby, self.standby = self.standby, None
        if standby is not None and standby.child.running:
            standby.promote()
            self.incoming = standby
            if standby.ready:  # promoted before it reported standby: already serving
                self.enqueue(Ready(standby))
        else:
            self.incoming = await self._spawn("active")
        incoming = self.incoming
        asyncio.get_running_loop().call_later(
            self.settings.start_timeout, self.enqueue, StartTimedOut(incoming)
        )

    async def _spawn(self, role: Role) -> BackendProcess:
        first, self._first = self._first, None
        if first is not None and role == first.role:
            proc = await BackendProcess.adopt(first, on_ready=lambda p: self.enqueue(Ready(p)))
        else:
            if first is not None:
                first.abandon()
            config = backend_config(
                self.settings, port=self.port, token=self.token, instance=self.instance, role=role
            )
            proc = await BackendProcess.spawn(
                config,
                self.sock,
                python=self.settings.python,
                log_dir=self.settings.log_dir,
                on_ready=lambda p: self.enqueue(Ready(p)),
            )
        if self._records is not None:
            self._records.add("backend", proc.pid)
        self._watch_exit(proc)
        return proc

    def _watch_exit(self, proc: BackendProcess) -> None:
        async def wait() -> None:
            self.enqueue(Exited(proc, await proc.child.wait()))

        task = asyncio.ensure_future(wait())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _retire(self, proc: BackendProcess, grace: float | None = None) -> None:
        """Stop ``proc`` in the background: SIGTERM, wait, SIGKILL; then close its pipes.

        The pipes stay open until it is gone: their end-of-file means "main is gone, exit now",
        which would cut its graceful shutdown short.
        """
        timeout = self.settings.stop_timeout if grace is None else grace

        async def retire() -> int:
            try:
                return await proc.child.terminate(timeout)
            finally:
                proc.release()

        task = asyncio.ensure_future(retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    def _kill(self, proc: BackendProcess, reason: str) -> None:
        self._kill_reasons[proc.pid] = reason
        proc.child.kill()

    def _schedule(self, delay: float | None, command: str) -> None:
        if delay is None:
            return
        if delay <= 0:
            self.enqueue(Command(command))
        else:
            asyncio.get_running_loop().call_later(delay, self.enqueue, Command(command))

    async def _give_up(self, proc: BackendProcess, code: int, headline: str) -> None:
        """State ``error``: ``headline``, the exit, and the last lines the backend wrote."""
        await proc.child.reaped()  # its last words are read to the end
        if self.standby is not None:
            self._retire(self.standby, grace=0)
            self.standby = None
        tail = " | ".join(line.strip() for line in proc.child.tail(5) if line.strip())
        diagnosis = f"gave up: {headline}"
        if tail:
            diagnosis += f"; last output: {tail}"
        log.error("backend_gave_up", reason=headline, last_output=proc.child.tail())
        await self._set("error", reason=diagnosis, exit_code=code, pid=None)

    async def _set(
        self,
        state: BackendState,
        *,
        reason: str | None = None,
        exit_code: int | None = None,
        pid: int | None = None,
    ) -> None:
        self.state = state
        health = self._health.publishing(running=state == "running")
        self._running_since = _running_since(self._running_since, state, pid)
        status = BackendStatus(
            state=state,
            port=self.port,
            pid=pid,
            restarts=self.restarts,
            reason=reason,
            exit_code=exit_code,
            health=health.status if health else None,
            health_reason=health.reason if health else None,
            started_at=self._running_since[1] if self._running_since else None,
        )
        log.info("backend_state", state=state, backend_pid=pid, reason=reason)
        self._unavailable.follow(state, reason, serving=self._serving())  # before anyone hears
        await self._publish(status)

    def _serving(self) -> bool:
        """Whether a backend process accepts on the socket (serving, or a warm standby)."""
        return any(p is not None and p.serving for p in (self.active, self.incoming, self.standby))

    @staticmethod
    def _pid_of(proc: BackendProcess | None) -> int | None:
        return proc.pid if proc is not None else None

    async def _watch_liveness(self) -> None:
        """Every interval: ping each serving process over its pipe, and GET /health.

        Both processes accept on the socket, so /health may be answered by either: it says the
        port is served. The ping says whose event loop is alive. A process that misses enough
        in a row (no pong, or for the backend also no /health) is killed and replaced.
        """
        misses = Misses(self.settings.health_misses)
        while True:
            await asyncio.sleep(self.settings.health_interval)  # the probes' period, not a wait
            http_ok = self.state != "running" or await self._health.check()
            if self.state == "running" and http_ok and self._health.news():
                self.enqueue(Command("health"))
            for proc in (self.active, self.standby):
                if proc is None or not proc.serving or proc is self.incoming:
                    continue
                healthy = proc.answered_last_ping() and (proc is not self.active or http_ok)
                unresponsive = misses.record(proc.pid, healthy)
                proc.ping()
                if unresponsive:
                    self.enqueue(Unresponsive(proc))


def _running_since(
    since: tuple[int | None, float] | None, state: BackendState, pid: int | None
) -> tuple[int | None, float] | None:
    """(pid, wall-clock time) the serving backend came up: kept across re-publishes of it."""
    if state != "running":
        return None
    if since is not None and since[0] == pid:
        return since
    return pid, time.time()
