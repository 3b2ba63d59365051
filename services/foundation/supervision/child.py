"""One supervised OS process: spawned in its own session, watched, stopped in a fixed order.

- Its stdout and stderr go, line by line, to ``<log_dir>/<name>.output.log`` (rotating) and to an
  in-memory tail of the last lines, for diagnosis when it dies.
- Its exit is learned at once from asyncio's child watcher (``Process.wait``), never by polling.
- ``terminate``: SIGTERM to its process group → wait → SIGKILL to the group → reap; then SIGKILL
  to the group once more, so no grandchild outlives it.
- :meth:`Child.adopt` supervises a process started before the event loop
  (:func:`~services.foundation.supervision.spawn.spawn_early`) the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from services.foundation.supervision.spawn import ChildSpec, EarlyChild, EarlyProcess, launch_args

log = structlog.get_logger(__name__)

TAIL_LINES = 50
OUTPUT_FILE_BYTES = 5 * 1024 * 1024
OUTPUT_FILE_BACKUPS = 3
READ_CHUNK = 65536

__all__ = ["Child", "ChildSpec", "describe_exit"]


class Process(Protocol):
    """What :class:`Child` uses of a process: asyncio's, or an adopted one."""

    @property
    def pid(self) -> int: ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    async def wait(self) -> int: ...


class AdoptedProcess:
    """A process started before the loop, as :class:`Child` sees it: its output read through
    the loop, its exit reaped by a thread of its own (as asyncio's child watcher does)."""

    def __init__(self, process: EarlyProcess, stdout: asyncio.StreamReader) -> None:
        self.pid = process.pid
        self.stdout = stdout
        self._process = process
        loop = asyncio.get_running_loop()
        self._exit: asyncio.Future[int] = loop.create_future()
        threading.Thread(
            target=self._reap, args=(loop,), name=f"reap-{self.pid}", daemon=True
        ).start()

    def _reap(self, loop: asyncio.AbstractEventLoop) -> None:
        code = self._process.wait()  # its own wait records the status; nothing else reaps it
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(self._ended, code)

    def _ended(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``signal SIGKILL``, as a person reads it."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _output_logger(spec: ChildSpec) -> logging.Logger | None:
    if spec.log_dir is None:
        return None
    spec.log_dir.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"ctxbus.output.{spec.name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.handlers.RotatingFileHandler(
            spec.log_dir / f"{spec.name}.output.log",
            maxBytes=OUTPUT_FILE_BYTES,
            backupCount=OUTPUT_FILE_BACKUPS,
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger


class Child:
    """A running (or ended) child process; create with :meth:`spawn`."""

    def __init__(self, spec: ChildSpec, process: Process, lifeline: int | None = None) -> None:
        self.spec = spec
        self._lifeline = lifeline
        self.pid = process.pid
        self.started_at = time.monotonic()
        self.returncode: int | None = None
        self._process = process
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._new_line = asyncio.Event()
        self._output = _output_logger(spec)
        self._pump = asyncio.ensure_future(self._read_output())
        self._ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._watch_pidfd()
        self._exited = asyncio.ensure_future(self._wait())

    @classmethod
    async def spawn(cls, spec: ChildSpec) -> Child:
        """Start ``spec`` in a new session (its own process group)."""
        launch = launch_args(spec)
        try:
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=launch.env,
                pass_fds=launch.pass_fds,
                start_new_session=True,
            )
        except BaseException:
            launch.spawned()
            launch.failed()
            raise
        lifeline = launch.spawned()
        log.info("child_started", child=spec.name, child_pid=process.pid)
        return cls(spec, process, lifeline)

    @classmethod
    async def adopt(cls, early: EarlyChild) -> Child:
        """Supervise a process :func:`spawn_early` started before the loop, as if spawned here.

        Its ``child_started`` line is logged now; ``spawned_at`` is when it really started.
        """
        assert early.process.stdout is not None  # spawn_early always pipes its output
        early.adopted = True
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        await asyncio.get_running_loop().connect_read_pipe(lambda: protocol, early.process.stdout)
        log.info(
            "child_started", child=early.spec.name, child_pid=early.pid, spawned_at=early.spawned_at
        )
        return cls(early.spec, AdoptedProcess(early.process, reader), early.lifeline)

    def _watch_pidfd(self) -> None:
        """On Linux, learn of the exit the moment it happens: a pidfd turns readable.

        ``waitid(..., WNOWAIT)`` reads the status without reaping; asyncio's watcher reaps.
        """
        try:
            fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            return  # not Linux >= 5.3: asyncio's child watcher tells us, a little later
        loop = asyncio.get_running_loop()

        def readable() -> None:
            loop.remove_reader(fd)
            try:
                info = os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                info = None  # already reaped: _wait reports it
            finally:
                os.close(fd)
            if info is not None:
                killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
                self._end(-info.si_status if killed else info.si_status)

        loop.add_reader(fd, readable)

    def _end(self, code: int) -> None:
        if self._ended.done():
            return
        self.returncode = code
        # The leader is gone: end whatever it left in its group (ESRCH when nothing is left).
        self._signal_group(signal.SIGKILL)
        self._ended.set_result(code)

    async def _wait(self) -> int:
        code = await self._process.wait()
        self._end(code)
        self.close_lifeline()
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.shield(self._pump)
        return code

    async def _read_output(self) -> None:
        stream = self._process.stdout
        if stream is None:
            return
        pending = b""
        while chunk := await stream.read(READ_CHUNK):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._record(line)
            if len(pending) > READ_CHUNK:
                self._record(pending)
                pending = b""
        if pending:
            self._record(pending)

    def _record(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip("\r")
        self._tail.append(line)
        self._new_line.set()
        if self._output is not None:
            self._output.info(line)

    @property
    def running(self) -> bool:
        return self.returncode is None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        """The last ``lines`` lines the process wrote."""
        return list(self._tail)[-lines:]

    def close_lifeline(self) -> None:
        """Close our end of its lifeline: the child takes it as "my supervisor is gone"."""
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    async def output_line(self, predicate: Callable[[str], bool]) -> str:
        """The first line (from now on, or still in the tail) for which ``predicate`` holds."""
        while True:
            for line in self._tail:
                if predicate(line):
                    return line
            if self._pump.done():
                raise EOFError(f"{self.spec.name} closed its output without such a line")
            self._new_line.clear()
            waiters: set[asyncio.Future[Any]] = {
                asyncio.ensure_future(asyncio.shield(self._pump)),
                asyncio.ensure_future(self._new_line.wait()),
            }
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def wait(self) -> int:
        """Its exit status (negative: the signal that ended it), as soon as it has ended."""
        return await asyncio.shield(self._ended)

    async def reaped(self) -> int:
        """Its exit status once it is reaped and its output is read to the end."""
        return await asyncio.shield(self._exited)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def send_signal(self, sig: int) -> None:
        """Signal the whole process group while the leader lives."""
        if self.running:
            self._signal_group(sig)

    def kill(self) -> None:
        """SIGKILL the whole group now."""
        self.send_signal(signal.SIGKILL)

    async def terminate(self, grace: float) -> int:
        """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL it; return the status."""
        self.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                return await self.reaped()
        except TimeoutError:
            log.warning("child_kill_after_timeout", child=self.spec.name, child_pid=self.pid)
            self.kill()
            return await self.reaped()
