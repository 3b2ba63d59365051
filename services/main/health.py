"""Health probes of the backend: one ``GET /health`` with a short timeout, and what it said.

A probe is one small request every two seconds on loopback, so it speaks HTTP/1.1 over an
asyncio stream itself instead of importing an HTTP client library: main stays small in memory.
Liveness is the status line alone (``200`` in time); the body's ``status`` and ``reason`` (the
backend's own verdict, e.g. ``degraded`` with ``database: damaged: ...``; the backend gives the
reason only to a request with its token, which main sends) are kept as
:attr:`HealthProbe.last` for main to publish. A body main cannot read leaves ``last`` empty and
the probe still counts as answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

import msgspec
import structlog

from services.foundation.backend_contract import HEALTH_PATH

log = structlog.get_logger(__name__)

OK_STATUS_LINE = b"HTTP/1.1 200 "
MAX_BODY = 64 * 1024  # a /health answer is well under 1 KiB
BODY_ERRORS = (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class BackendHealth(msgspec.Struct, frozen=True):
    """The part of the backend's ``/health`` answer main publishes (other fields are ignored)."""

    status: Literal["ok", "degraded"]
    reason: str | None = None

    def components(self) -> frozenset[str]:
        """The components the reason names: ``"database: ...; storage: ..."`` → both names."""
        parts = (self.reason or "").split("; ")
        return frozenset(part.split(":", 1)[0] for part in parts if ":" in part)

    def news_after(self, shown: BackendHealth | None) -> bool:
        """Whether this differs from ``shown`` in status or in which components are not ok.

        The figures within a reason (``12.0 MB free``) move with every write: they are not news.
        """
        return (
            shown is None or self.status != shown.status or self.components() != shown.components()
        )


class HealthProbe:
    """GET /health on the backend's fixed address; True when it answers 200 in time."""

    def __init__(self, host: str, port: int, timeout: float, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.last: BackendHealth | None = None  # what the last answered probe's body said
        self._published: BackendHealth | None = None
        authorization = f"Authorization: Bearer {token}\r\n" if token else ""
        self._request = (
            f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n{authorization}"
            "Connection: close\r\nUser-Agent: ctxbus-main\r\n\r\n"
        ).encode()

    async def check(self) -> bool:
        """One probe; :attr:`last` is set from it when it ends (None if no body was read)."""
        answered = False
        health: BackendHealth | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            with contextlib.suppress(OSError, TimeoutError):  # no 200 in time: a miss
                async with asyncio.timeout(self.timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(self._request)
                    answered = (await reader.readline()).startswith(OK_STATUS_LINE)
                    if answered:  # liveness is settled; the body only informs
                        health = await _read_health(reader)
        finally:
            self.last = health
            if writer is not None:
                writer.close()
        return answered

    def news(self) -> bool:
        """Whether the last answer says something other than what was last published."""
        return self.last is not None and self.last.news_after(self._published)

    def publishing(self, running: bool) -> BackendHealth | None:
        """What a ``backend.status`` about to go out carries: the last answer while running."""
        if running and self.last is not None and self.news():
            if self.last.status == "degraded":
                log.warning("backend_degraded", reason=self.last.reason)
            elif self._published is not None:
                log.info("backend_healthy_again")
        self._published = self.last if running else None
        return self._published

    async def aclose(self) -> None:
        """Nothing is kept open between probes."""


async def _read_health(reader: asyncio.StreamReader) -> BackendHealth | None:
    """The rest of a 200 answer (headers, then a ``Content-Length`` body) as its health."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = _content_length(head)
        if length is None or length > MAX_BODY:
            return None
        return msgspec.json.decode(await reader.readexactly(length), type=BackendHealth)
    except (*BODY_ERRORS, msgspec.DecodeError):
        return None


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None
