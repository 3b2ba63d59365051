"""The one way a ctxbus component talks to the backend: an httpx client that follows main.

A :class:`BackendClient` knows where the backend is and with which token, from main's
``get_port``; it asks again whenever ``backend.status`` shows a new main instance (a new token) or
a new port, and after a 401/403 (a stale token), and swaps its httpx client. Status comes either
from :meth:`BackendClient.follow` (its own Clone-pattern follower of ``backend.status`` with main's
heartbeat) or, in a process that already follows the topic, from :meth:`BackendClient.observe`.

:meth:`BackendClient.request` retries an idempotent request once, on a fresh connection: when a
backend dies, every pooled keep-alive connection to it is dead, and the pool would hand out the
next dead one (only when its body is bytes: a streamed body is used up). Whatever fails ends in
:class:`BackendUnavailable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx
import structlog

from bus import (
    AsyncRequester,
    BackendStatus,
    BusError,
    Endpoints,
    HeartbeatRule,
    MainOps,
    PortInfo,
    ServiceError,
    StateFollower,
    endpoints,
)

log = structlog.get_logger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_ERRORS = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
STALE_TOKEN_CODES = frozenset({401, 403})
DEFAULT_TIMEOUT = 30.0  # seconds for one request to the backend

Body = bytes | AsyncIterator[bytes] | None  # a request body: whole, or streamed


class BackendUnavailable(ServiceError):
    """The backend could not be reached: main has not said where, or the request failed."""


class BackendClient:
    """Where the backend is, whether it runs, and the httpx client with the current token."""

    def __init__(
        self,
        bus: Endpoints,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        requester: AsyncRequester | None = None,
    ) -> None:
        self.bus = bus
        self.timeout = timeout
        self.running = asyncio.Event()  # the backend is running and we know where
        self._watchers: list[asyncio.Event] = []
        self.status: BackendStatus | None = None
        self._own_requester = requester is None
        self._requester = requester or AsyncRequester(bus.control)
        self._info: PortInfo | None = None
        self._client: httpx.AsyncClient | None = None
        self._stale = False
        self._lock = asyncio.Lock()

    def watch(self, event: asyncio.Event | None = None) -> asyncio.Event:
        """An event set on every change of the backend's state (each watcher clears its own)."""
        event = event if event is not None else asyncio.Event()
        self._watchers.append(event)
        return event

    def _changed(self) -> None:
        for event in self._watchers:
            event.set()

    @property
    def info(self) -> PortInfo | None:
        """What main said last: port, base URL, token, state."""
        return self._info

    async def refresh(self) -> PortInfo:
        """Ask main for the port and token; rebuild the client if either changed."""
        async with self._lock:
            info = await self._requester.call(MainOps.GET_PORT)
            old = self._info
            self._info = info
            self._stale = False
            if old is None or (old.port, old.token) != (info.port, info.token):
                await self._swap_client(info)
            return info

    async def _swap_client(self, info: PortInfo) -> None:
        old, self._client = (
            self._client,
            httpx.AsyncClient(
                base_url=f"http://{endpoints.LOOPBACK_HOST}:{info.port}",
                headers={"Authorization": f"Bearer {info.token}"},
                timeout=self.timeout,
                verify=False,  # plain http to 127.0.0.1: no TLS, so no certificate bundle to load
            ),
        )
        log.info("backend_client", port=info.port)
        if old is not None:
            await old.aclose()  # its backend belonged to a main that is gone

    async def follow(self) -> None:
        """Track ``backend.status`` (Clone pattern, main's heartbeat) until cancelled."""
        follower = StateFollower(
            self.bus.events,
            endpoints.BACKEND_STATUS,
            BackendStatus,
            self._snapshot,
            heartbeat=HeartbeatRule(),
        )
        async for update in follower.updates():
            if update.event is not None:
                await self.observe(update.event)
            elif update.kind == "lost":
                log.info("main_lost")
                self.running.clear()
                self._changed()

    async def _snapshot(self) -> BackendStatus:
        return await self._requester.call(MainOps.GET_STATUS)

    async def observe(self, status: BackendStatus) -> None:
        """Follow one ``backend.status``: a new main instance or port means a new client."""
        old = self.status
        self.status = status
        if old is None or old.instance != status.instance or old.port != status.port:
            try:
                await self.refresh()
            except BusError as exc:
                log.warning("get_port_failed", error=str(exc))
        if status.state == "running" and self._client is not None:
            self.running.set()
        else:
            self.running.clear()
        self._changed()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: Body = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send a request (``url`` relative to the backend); one retry if idempotent.

        ``content`` given as an async iterator is streamed to the backend (chunked, unless
        ``headers`` has a Content-Length) and never retried: it is used up. With ``stream`` the
        response body is left unread: the caller reads it and closes the response
        (``aclose``). An invalid ``url`` raises :class:`httpx.InvalidURL`.
        """
        if self._stale:
            await self._refresh_quietly()
        client = self._client
        if client is None:
            raise BackendUnavailable("main has not told where the backend is yet")
        built = client.build_request(method, url, headers=headers, content=content, params=params)
        replayable = content is None or isinstance(content, bytes)
        try:
            response = await client.send(built, stream=stream)
        except RETRIED_ERRORS as exc:
            if method not in IDEMPOTENT or not replayable:
                raise BackendUnavailable(f"the backend did not answer: {exc!r}") from exc
            log.info("backend_retry", method=method, url=url)
            response = await self._send_fresh(built)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the backend did not answer: {exc!r}") from exc
        if response.status_code in STALE_TOKEN_CODES:
            self._stale = True  # ask main again before the next request
        return response

    async def _send_fresh(self, built: httpx.Request) -> httpx.Response:
        """``built`` again on a new connection, read whole (its client closes at once)."""
        async with httpx.AsyncClient(timeout=self.timeout, verify=False) as fresh:
            try:
                return await fresh.send(built)
            except httpx.HTTPError as exc:
                raise BackendUnavailable(f"the backend did not answer: {exc!r}") from exc

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except BusError as exc:
            log.warning("get_port_failed", error=str(exc))

    async def aclose(self) -> None:
        """Close the httpx client (and the requester, if this client made it)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._own_requester:
            self._requester.close()
