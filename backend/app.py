"""The backend's ASGI app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket main
hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`;
the text on captures and ``/api/search``: :mod:`backend.text_api`, :mod:`backend.search_api`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.

``GET /health``, what main probes, is answered here, in plain ASGI
(:func:`backend.health.health_body`); every other request goes to the FastAPI app of
:mod:`backend.api`. Both go through :class:`backend.security.RequestGuard`. The lifespan's
startup opens the backend and sends the API app one request (:mod:`backend.warm_up`): the
backend reports ready only after its startup, so ready means every route answers at once, the
first request for the API as quickly as any.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from backend.api import create_api
from backend.health import health_body
from backend.runtime import Backend, open_backend
from backend.security import RequestGuard
from backend.warm_up import warm_up
from services.foundation.backend_contract import HEALTH_PATH, BackendConfig

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send


JSON_HEADERS = [(b"content-type", b"application/json")]


class BackendApp:
    """The lifespan and ``GET /health`` here; every other request through the API app."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.backend: Backend | None = None
        self.api = create_api(None)  # the lifespan gives it the backend it opens
        self._guarded = RequestGuard(self._dispatch, config=config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self._guarded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and scope["method"] == "GET":
            await self._health(scope, send)
        else:
            await self.api(scope, receive, send)

    async def _health(self, scope: Scope, send: Send) -> None:
        if self.backend is None:
            raise RuntimeError("the backend app was served without its lifespan (lifespan='on')")
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        body = await health_body(self.backend, authorization)
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length + JSON_HEADERS})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """ASGI's lifespan: open the backend at startup, close it at shutdown (as Starlette does,
        a failure is reported as ``startup.failed``/``shutdown.failed`` and raised)."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with open_backend(self.config) as backend:
                self._attach(backend)
                await warm_up(self.api, self.config.port)  # before ready: module doc
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
