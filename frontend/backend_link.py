"""The frontend's link to the backend, opened once the dashboard serves.

The link is a :class:`~services.foundation.backend_client.BackendClient`: httpx, and at its first
client httpcore and h11, about 30 ms of imports, a fifth of the frontend's start-up. Nothing the
frontend does before it serves needs them (it only waits for main's ``get_port``:
:func:`wait_for_main`), so :meth:`BackendLink.open` imports and builds the client right after the
URL is announced. What needs the client first (an ``/api`` request, a ``backend.status`` to
follow) waits for it: tens of milliseconds at most, and only in the first moment.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

import structlog

from bus import AsyncRequester, BackendStatus, BusError, Endpoints, MainOps, PortInfo

if TYPE_CHECKING:
    from services.foundation.backend_client import BackendClient

log = structlog.get_logger("frontend.backend_link")

PROXY_MODULE = "frontend.proxy"  # the /api route's module (httpx): loaded with the link


async def wait_for_main(control: AsyncRequester, deadline: float) -> PortInfo:
    """Ask main for the backend's port until it answers; ``TimeoutError`` after ``deadline`` s."""
    async with asyncio.timeout(deadline):
        while True:
            try:
                return await control.call(MainOps.GET_PORT)
            except BusError as exc:
                log.info("waiting_for_main", error=str(exc))


class BackendLink:
    """A :class:`BackendClient` that exists once :meth:`open` has run; its users wait for it."""

    def __init__(self, bus: Endpoints, control: AsyncRequester | None) -> None:
        self._bus = bus
        self._control = control
        self._client: BackendClient | None = None
        self._opened = asyncio.Event()

    @classmethod
    def of(cls, client: BackendClient) -> BackendLink:
        """A link that is open already, with ``client`` (for an app built around its own)."""
        link = cls(client.bus, None)
        link._client = client
        link._opened.set()
        return link

    async def open(self) -> None:
        """Import and build the client, and ask main where the backend is (a failure is logged:
        the first ``backend.status`` asks again); then let the waiters have it."""
        from services.foundation.backend_client import BackendClient  # here: see the module

        assert self._control is not None, "a link made open (BackendLink.of) is not opened again"
        importlib.import_module(PROXY_MODULE)  # now, not at the first /api request
        client = BackendClient(self._bus, requester=self._control)
        try:
            await client.refresh()
        except BusError as exc:
            log.warning("get_port_failed", error=str(exc))
        self._client = client
        self._opened.set()
        log.info("backend_link_open")

    def give_up(self) -> None:
        """Let the waiters go, with no client if it was not built (the frontend stops first);
        nothing once open."""
        self._opened.set()

    async def client(self) -> BackendClient | None:
        """The client, once :meth:`open` has built it; ``None`` after :meth:`give_up` without it."""
        await self._opened.wait()
        return self._client

    async def observe(self, status: BackendStatus) -> None:
        """Follow one ``backend.status`` (:meth:`BackendClient.observe`), once the link is open."""
        client = await self.client()
        if client is not None:
            await client.observe(status)

    async def aclose(self) -> None:
        """Close the client, if it was built."""
        if self._client is not None:
            await self._client.aclose()
