"""The dashboard's listening socket and the uvicorn server that serves on it.

The frontend binds its socket itself (127.0.0.1, the configured port, else any free port: no
probe-then-bind race) and hands it to uvicorn. Signals stay with the frontend's own loop: uvicorn's
signal capture is turned off, and :meth:`DashboardServer.stop` is how it is asked to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Generator

import structlog
import uvicorn

from bus.endpoints import LOOPBACK_HOST

log = structlog.get_logger("frontend.server")

BACKLOG = 128


def bind_socket(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port``, or on a free port if that one is taken."""
    try:
        return _listen(port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            raise
        log.info("port_taken", port=port)
        return _listen(0)


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK_HOST, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class DashboardServer(uvicorn.Server):
    """uvicorn's server with a ``started`` event and without its own signal handlers."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.serving = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield  # the frontend's loop owns SIGINT/SIGTERM

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.serving.set()

    def stop(self) -> None:
        self.should_exit = True
