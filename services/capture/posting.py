"""The capture process's way to the backend: follow ``backend.status``, post shots over httpx.

:meth:`BackendLink.follow` tracks main's ``backend.status`` with the Clone pattern
(:class:`~bus.StateFollower` with main's heartbeat) and sets :attr:`BackendLink.running`. When
main's instance or the port changes it asks ``get_port`` again and rebuilds the httpx client (a new
main means a new token). Every change sets ``changed`` and the ``wake`` event the uploader waits on.
"""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import structlog

from bus import (
    AsyncRequester,
    BackendStatus,
    BusError,
    Endpoints,
    HeartbeatRule,
    PortInfo,
    StateFollower,
    endpoints,
)
from bus.ops import MainOps
from services.capture.frames import Shot

log = structlog.get_logger("capture.backend_link")

CAPTURES_PATH = "/api/captures"
IDEMPOTENCY_HEADER = "Idempotency-Key"
STORED_CODES = frozenset({200, 201})
RETRY_CODES = frozenset({401, 403, 408, 425, 429})  # plus every 5xx


class StoredCapture(msgspec.Struct, kw_only=True):
    """The part of the backend's capture record the capture process uses."""

    id: str
    idempotency_key: str
    captured_at: float
    monitor: int
    width: int
    height: int
    bytes: int


class UploadFailed(Exception):
    """A post did not store the shot; ``retry`` says whether sending it again can help."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


_stored_decoder = msgspec.json.Decoder(StoredCapture)


class BackendLink:
    """Where the backend is, whether it runs, and an httpx client with the current token."""

    def __init__(self, bus: Endpoints, wake: asyncio.Event, timeout: float) -> None:
        self.bus = bus
        self.wake = wake
        self.timeout = timeout
        self.running = asyncio.Event()
        self.changed = asyncio.Event()  # set on every update of the backend's state
        self.status: BackendStatus | None = None
        self._requester = AsyncRequester(bus.control)
        self._info: PortInfo | None = None
        self._client: httpx.AsyncClient | None = None
        self._stale = False

    async def follow(self) -> None:
        """Track ``backend.status`` until cancelled."""
        follower = StateFollower(
            self.bus.events,
            endpoints.BACKEND_STATUS,
            BackendStatus,
            self._snapshot,
            heartbeat=HeartbeatRule(),
        )
        try:
            async for update in follower.updates():
                if update.event is not None:
                    await self._observe(update.event)
                elif update.kind == "lost":
                    log.info("main_lost")
                    self.running.clear()
                self.changed.set()
                self.wake.set()
        finally:
            self._requester.close()

    async def _snapshot(self) -> BackendStatus:
        return await self._requester.call(MainOps.GET_STATUS)

    async def _observe(self, status: BackendStatus) -> None:
        old = self.status
        self.status = status
        if old is None or old.instance != status.instance or old.port != status.port:
            await self.refresh()
        if status.state == "running" and self._client is not None:
            self.running.set()
        else:
            self.running.clear()

    async def refresh(self) -> None:
        """Ask main for the port and token again; rebuild the client if either changed."""
        try:
            info = await self._requester.call(MainOps.GET_PORT)
        except BusError as exc:
            log.warning("get_port_failed", error=str(exc))
            return
        old = self._info
        self._info = info
        if old is None or (old.port, old.token) != (info.port, info.token):
            await self._swap_client(info)

    async def _swap_client(self, info: PortInfo) -> None:
        old, self._client = (
            self._client,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{info.port}",
                headers={"Authorization": f"Bearer {info.token}"},
                timeout=self.timeout,
            ),
        )
        log.info("backend_client", port=info.port)
        if old is not None:
            await old.aclose()

    async def post(self, shot: Shot) -> StoredCapture:
        """Store ``shot`` in the backend (idempotent on the shot's id); :class:`UploadFailed`."""
        if self._stale:
            self._stale = False
            await self.refresh()
        client = self._client
        if client is None:
            raise UploadFailed("main has not told where the backend is yet", retry=True)
        try:
            response = await client.post(
                CAPTURES_PATH,
                content=shot.data,
                params=_metadata(shot),
                headers={"Content-Type": shot.meta.media_type, IDEMPOTENCY_HEADER: shot.id},
            )
        except httpx.HTTPError as exc:
            raise UploadFailed(f"the backend did not answer: {exc!r}", retry=True) from exc
        return self._result(response)

    def _result(self, response: httpx.Response) -> StoredCapture:
        code = response.status_code
        if code in STORED_CODES:
            try:
                return _stored_decoder.decode(response.content)
            except msgspec.DecodeError as exc:
                raise UploadFailed(f"unreadable reply from the backend: {exc}", retry=True) from exc
        if code in (401, 403):
            self._stale = True  # the token is stale: ask main again before the next post
        reason = f"the backend answered {code}: {response.text[:300]}"
        raise UploadFailed(reason, retry=code in RETRY_CODES or code >= 500)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._requester.close()


def _metadata(shot: Shot) -> dict[str, str]:
    meta = shot.meta
    return {
        "captured_at": repr(meta.captured_at),
        "monitor": str(meta.monitor),
        "width": str(meta.width),
        "height": str(meta.height),
    }
