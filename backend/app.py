"""The backend's ASGI app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket main
hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`;
the text on captures and ``/api/search``: :mod:`backend.text_api`, :mod:`backend.search_api`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.

``GET /health``, what main waits for when the backend starts, is answered here, in plain ASGI
(:func:`backend.health.health_body`). Every other request goes to the FastAPI app of
:mod:`backend.api`, imported and built on the first such request, or :data:`API_PRELOAD_DELAY`
seconds after startup (its imports off the event loop), whichever comes first: FastAPI, pydantic,
Starlette, the routes and their models are most of the backend's start-up, and ``/health`` needs
none of them. Every route answers from the first request; only the first one for the API waits.
Both go through :class:`backend.security.RequestGuard`.
"""

from __future__ import annotations

import asyncio
import importlib
import traceback
from typing import TYPE_CHECKING

from backend.health import health_body
from backend.runtime import Backend, open_backend
from backend.security import RequestGuard
from services.foundation.backend_contract import HEALTH_PATH, BackendConfig

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from backend.api import ApiApp

API_MODULE = "backend.api"
API_PRELOAD_DELAY = 1.0  # seconds after startup: once main's first probes are answered
JSON_HEADERS = [(b"content-type", b"application/json")]


class BackendApp:
    """The lifespan and ``GET /health`` here; every other request through the API app."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.backend: Backend | None = None
        self.api: ApiApp | None = None
        self.api_ready = asyncio.Event()  # set once the API app is built
        self._guarded = RequestGuard(self._dispatch, config=config)

    @property
    def api_loaded(self) -> bool:
        """Whether the API app is built."""
        return self.api is not None

    def load_api(self) -> ASGIApp:
        """The API app, imported and built on the first call."""
        if self.api is None:
            from backend.api import create_api  # on first need: it imports FastAPI (module doc)

            self.api = create_api(self.backend)
            self.api_ready.set()
        return self.api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self._guarded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and scope["method"] == "GET":
            await self._health(scope, send)
        else:
            await self.load_api()(scope, receive, send)

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
                preload = asyncio.create_task(self._preload_api(), name="backend-api-preload")
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
                preload.cancel()
                await asyncio.gather(preload, return_exceptions=True)
        except BaseException:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    def _attach(self, backend: Backend) -> None:
        self.backend = backend
        if self.api is not None:
            self.api.state.backend = backend

    async def _preload_api(self) -> None:
        await asyncio.sleep(API_PRELOAD_DELAY)  # a scheduled wait: main's probes come first
        await asyncio.to_thread(importlib.import_module, API_MODULE)  # the loop keeps serving
        self.load_api()


def create_app(config: BackendConfig) -> BackendApp:
    """The backend app for ``config``; serve it with lifespan on."""
    return BackendApp(config)
