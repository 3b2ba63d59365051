"""The frontend's way to the backend: an httpx client that follows main's port and token.

At start :meth:`BackendLink.connect` asks main for ``get_port`` (Lazy Pirate, retried until a
deadline); afterwards every ``backend.status`` event goes through :meth:`BackendLink.observe`, which
asks again when main's instance (hence the token) or the port changes and then swaps the client.
Idempotent requests are retried once on a connection error (the one in flight at a backend kill).
"""

from __future__ import annotations

import asyncio

import httpx
import structlog

from bus import AsyncRequester, BackendStatus, BusError, PortInfo
from bus.ops import MainOps

log = structlog.get_logger("frontend.backend_link")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_ERRORS = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
REQUEST_TIMEOUT = 30.0


class BackendUnavailable(Exception):
    """The backend could not be reached (main unknown, or the request failed after its retry)."""


class BackendLink:
    """The current ``httpx.AsyncClient`` for the backend, rebuilt when its port or token change."""

    def __init__(self, requester: AsyncRequester) -> None:
        self._requester = requester
        self._client: httpx.AsyncClient | None = None
        self._info: PortInfo | None = None
        self._instance: str | None = None
        self._lock = asyncio.Lock()

    @property
    def info(self) -> PortInfo | None:
        return self._info

    async def connect(self, deadline: float) -> PortInfo:
        """Ask main for the port until it answers; ``TimeoutError`` after ``deadline`` seconds."""
        async with asyncio.timeout(deadline):
            while True:
                try:
                    return await self.refresh()
                except BusError as exc:
                    log.info("waiting_for_main", error=str(exc))

    async def refresh(self) -> PortInfo:
        """Ask main for the port and token; rebuild the client if either changed."""
        async with self._lock:
            info = await self._requester.call(MainOps.GET_PORT)
            old = self._info
            if old is None or (old.port, old.token) != (info.port, info.token):
                await self._swap_client(info)
            self._info = info
            return info

    async def _swap_client(self, info: PortInfo) -> None:
        old = self._client
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{info.port}",
            headers={"Authorization": f"Bearer {info.token}"},
            timeout=REQUEST_TIMEOUT,
        )
        log.info("backend_client", port=info.port)
        if old is not None:
            await old.aclose()  # its backend belonged to a main that is gone

    async def observe(self, status: BackendStatus) -> None:
        """Follow one ``backend.status``: a new main instance or port means a new client."""
        changed = status.instance != self._instance or (
            self._info is not None and status.port != self._info.port
        )
        self._instance = status.instance
        if changed:
            try:
                await self.refresh()
            except BusError as exc:
                log.warning("get_port_failed", error=str(exc))

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes
    ) -> httpx.Response:
        """Send a request (``url`` relative to the backend); one retry if idempotent.

        The retry goes out on a new connection, as browsers do: when a backend dies, every
        pooled keep-alive connection to it is dead, and the pool would hand out the next one.
        """
        client = self._client
        if client is None:
            raise BackendUnavailable("main has not told where the backend is yet")
        built = client.build_request(method, url, headers=headers, content=content)
        try:
            return await client.send(built)
        except RETRIED_ERRORS as exc:
            if method not in IDEMPOTENT:
                raise BackendUnavailable(f"the backend did not answer: {exc!r}") from exc
            log.info("backend_retry", method=method, url=url)
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as fresh:
            try:
                return await fresh.send(built)
            except RETRIED_ERRORS as exc:
                raise BackendUnavailable(f"the backend did not answer: {exc!r}") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
