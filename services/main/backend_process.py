"""One backend process as main sees it: a :class:`Child` plus the ready and control pipes."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from services.foundation.backend_contract import (
    PING_LINE,
    PONG_LINE,
    READY_LINE,
    SERVE_LINE,
    STANDBY_LINE,
    BackendConfig,
    Role,
)
from services.foundation.supervision import Child
from services.foundation.supervision.lifeline import watch_pipe
from services.main.backend_launch import BackendPipes, EarlyBackend, backend_launch

OnReady = Callable[["BackendProcess"], None]


class BackendProcess:
    """A spawned backend; ``on_ready`` fires when it serves, ``on_standby`` when it waits."""

    def __init__(self, child: Child, role: Role, control_fd: int) -> None:
        self.child = child
        self.role = role
        self.standing_by = False
        self.ready = False
        self.ready_at: float | None = None
        self.pinged_at: float | None = None
        self.ponged_at: float | None = None
        self._control_fd: int | None = control_fd
        self._stop_watch: Callable[[], None] | None = None

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def uptime(self) -> float | None:
        """Seconds since it started serving; None if it never did."""
        return None if self.ready_at is None else time.monotonic() - self.ready_at

    @classmethod
    async def spawn(
        cls,
        config: BackendConfig,
        sock: socket.socket,
        *,
        python: str,
        log_dir: Path,
        on_ready: OnReady,
    ) -> BackendProcess:
        """Start ``python -m backend`` with ``config`` (its fds filled in here)."""
        with backend_launch(config, sock, python=python, log_dir=log_dir) as (spec, pipes):
            child = await Child.spawn(spec)
        return cls._started(child, config.role, pipes, on_ready)

    @classmethod
    async def adopt(cls, early: EarlyBackend, on_ready: OnReady) -> BackendProcess:
        """Supervise a backend main started before its event loop, as if spawned now."""
        try:
            child = await Child.adopt(early.child)
        except BaseException:
            early.abandon()
            raise
        early.adopted = True
        return cls._started(child, early.role, early.pipes, on_ready)

    @classmethod
    def _started(
        cls, child: Child, role: Role, pipes: BackendPipes, on_ready: OnReady
    ) -> BackendProcess:
        proc = cls(child, role, pipes.control)
        proc._watch(pipes.ready, on_ready)
        return proc

    def _watch(self, ready_fd: int, on_ready: OnReady) -> None:
        def on_line(line: bytes) -> None:
            if line == STANDBY_LINE:
                self.standing_by = True
            elif line == READY_LINE:
                self.ready = True
                self.ready_at = time.monotonic()
                on_ready(self)
            elif line == PONG_LINE:
                self.ponged_at = time.monotonic()

        def on_eof() -> None:
            os.close(ready_fd)
            self._stop_watch = None

        self._stop_watch = watch_pipe(ready_fd, on_line, on_eof)

    @property
    def serving(self) -> bool:
        """It has said it accepts on the socket (as the backend or as a standby)."""
        return self.ready or self.standing_by

    def answered_last_ping(self) -> bool:
        """Whether its event loop answered the last ping (True before the first)."""
        if self.pinged_at is None:
            return True
        return self.ponged_at is not None and self.ponged_at >= self.pinged_at

    def ping(self) -> None:
        """Ask its event loop for a ``pong``."""
        self.pinged_at = time.monotonic()
        self._write(PING_LINE)

    def _write(self, line: bytes) -> None:
        if self._control_fd is not None:
            with contextlib.suppress(OSError):  # it died: its exit is reported separately
                os.write(self._control_fd, line)

    def promote(self) -> None:
        """Make a standby *the* backend (it already serves; it answers ``ready``)."""
        self._write(SERVE_LINE)
        self.role = "active"

    def release(self) -> None:
        """Close our end of its pipes (the backend reads end-of-file as: main is gone)."""
        if self._control_fd is not None:
            os.close(self._control_fd)
            self._control_fd = None
