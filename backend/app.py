"""The backend's ASGI app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket main
hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`;
the text on captures and ``/api/search``: :mod:`backend.text_api`, :mod:`backend.search_api`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.

The lifespan runs here, in plain ASGI; every request goes through
:class:`backend.security.RequestGuard` to the FastAPI app of :mod:`backend.api`, built with this
app. The server sends it one request before it reports ready (:mod:`backend.warm_up`), so ready
means every route answers at once, the first as quickly as any.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from backend.api import create_api
from backend.runtime import Backend, open_backend
from backend.security import RequestGuard
from services.foundation.backend_contract import BackendConfig

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send


class BackendApp:
    """The lifespan here; every request through the guard to the API app."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.backend: Backend | None = None
        self.api = create_api(None)  # the lifespan gives it the backend it opens
        self._guarded = RequestGuard(self.api, config=config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self._guarded(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """ASGI's lifespan: open the backend at startup, close it at shutdown (as Starlette does,
        a failure is reported as ``startup.failed``/``shutdown.failed`` and raised)."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with open_backend(self.config) as backend:
                self._attach(backend)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except BaseException:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    def _attach(self, backend: Backend) -> None:
        self.backend = backend
        self.api.state.backend = backend


def create_app(config: BackendConfig) -> BackendApp:
    """The backend app for ``config``; serve it with lifespan on."""
    return BackendApp(config)
