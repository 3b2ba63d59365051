"""Bounds on the backend's HTTP connections, so a local program cannot hold its file descriptors.

uvicorn's h11 protocol closes a keep-alive connection that stays idle after a response, but keeps
forever a connection that never sends a byte, one that sends its request head a byte at a time,
and one that never finishes its body (issue 12 §7: 500 idle, 300 slow-header and 300 slow-body
connections were all still open after 40 s). :class:`BoundedH11Protocol` adds what is missing:

- a connection that sends nothing is closed after ``timeout_keep_alive`` (as an idle keep-alive
  connection is);
- once a request's first byte arrives, the whole request (head and body) must be in within
  :data:`REQUEST_READ_TIMEOUT`, or the connection is closed (the app sees a disconnect).

:func:`connection_options` gives the uvicorn settings that go with it: ``limit_concurrency``
(past it, requests get 503 at once) and the keep-alive timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

log = structlog.get_logger(__name__)

KEEP_ALIVE_TIMEOUT = (
    5.0  # seconds a connection may stay idle: before its first request or after one
)
REQUEST_READ_TIMEOUT = (
    30.0  # seconds from a request's first byte to its last (a 20 MiB upload: <1 s)
)
MAX_CONCURRENCY = 256  # connections and requests at once; past it requests get 503 at once
READING = (h11.IDLE, h11.SEND_BODY)  # the peer's states while its request is still coming in


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines for a connection's first byte and for each request."""

    request_read_timeout = REQUEST_READ_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override] # uvicorn narrows it so too
        super().connection_made(transport)
        self._reading: asyncio.TimerHandle | None = None
        # Nothing sent yet: the idle rule of a kept-alive connection applies (the first byte,
        # in data_received, cancels it).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        if self._reading is None:
            self._reading = self.loop.call_later(self.request_read_timeout, self._too_slow)
        super().data_received(data)
        if self.conn.their_state not in READING:
            self._stop_reading_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._stop_reading_timer()  # the next request gets a fresh deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_reading_timer()
        super().connection_lost(exc)

    def _stop_reading_timer(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    def _too_slow(self) -> None:
        self._reading = None
        if not self.transport.is_closing():
            log.info("request_too_slow", client=self.client, timeout_s=self.request_read_timeout)
            self.transport.close()


def connection_options(
    keep_alive: float = KEEP_ALIVE_TIMEOUT,
    request_read: float = REQUEST_READ_TIMEOUT,
    max_concurrency: int = MAX_CONCURRENCY,
) -> dict[str, Any]:
    """The ``uvicorn.Config`` keyword arguments that bound connections (shorter in tests)."""
    protocol = type(
        "BoundedH11Protocol", (BoundedH11Protocol,), {"request_read_timeout": request_read}
    )
    return {
        "http": protocol,
        "timeout_keep_alive": keep_alive,
        "limit_concurrency": max_concurrency,
    }
