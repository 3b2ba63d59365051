"""One backend process as main sees it: a :class:`Child` plus the ready and control pipes."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import replace
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
from services.foundation.supervision import Child, ChildSpec
from services.foundation.supervision.lifeline import watch_pipe

BACKEND_MODULE = "backend"


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
        on_ready: Callable[[BackendProcess], None],
    ) -> BackendProcess:
        """Start ``python -m backend`` with ``config`` (its fds filled in here)."""
        ready_r, ready_w = os.pipe()
        control_r, control_w = os.pipe()
        listen_fd = sock.fileno()
        full = replace(
            config,
            listen_fd=listen_fd,
            ready_fd=ready_w,
            control_fd=control_r,
            parent_pid=os.getpid(),
        )
        env = {**os.environ, **full.to_env(), "PYTHONUNBUFFERED": "1"}
        spec = ChildSpec(
            name="backend",
            argv=(python, "-m", BACKEND_MODULE),
            env=env,
            log_dir=log_dir,
            pass_fds=(listen_fd, ready_w, control_r),
        )
        try:
            child = await Child.spawn(spec)
        except BaseException:
            for fd in (ready_r, control_w):
                os.close(fd)
            raise
        finally:
            os.close(ready_w)
            os.close(control_r)
        proc = cls(child, config.role, control_w)
        proc._watch(ready_r, on_ready)
        return proc

    def _watch(self, ready_fd: int, on_ready: Callable[[BackendProcess], None]) -> None:
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
