"""The backend's app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket main
hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`;
the text on captures and ``/api/search``: :mod:`backend.text_api`, :mod:`backend.search_api`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.

``GET /health``, what main waits for when the backend starts, is served by Starlette alone
(:mod:`backend.health`). Everything else goes to the FastAPI app of :mod:`backend.api`, imported
and built on the first such request, or :data:`API_PRELOAD_DELAY` seconds after startup (off the
event loop), whichever comes first: FastAPI, pydantic, the routes and their models are about
half of the backend's start-up, and ``/health`` needs none of them. Every route answers from the
first request; only the first one for the API waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.health import health
from backend.runtime import open_backend
from backend.security import RequestGuard
from services.foundation.backend_contract import HEALTH_PATH, BackendConfig

API_MODULE = "backend.api"
API_PRELOAD_DELAY = 1.0  # seconds after startup: once main's first probes are answered


class BackendApp(Starlette):
    """``GET /health`` here; every other request through the API app, built on first need."""

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(
            lifespan=self._lifespan, middleware=[Middleware(RequestGuard, config=config)]
        )
        self.config = config
        self.api: ASGIApp | None = None
        self.api_ready = asyncio.Event()  # set once the API app is built
        self.router.default = self._dispatch  # no routes of its own: everything comes here

    @property
    def api_loaded(self) -> bool:
        """Whether the API app is built."""
        return self.api is not None

    def load_api(self) -> ASGIApp:
        """The API app, imported and built on the first call."""
        if self.api is None:
            create_api = importlib.import_module(API_MODULE).create_api
            self.api = create_api(self.state)
            self.api_ready.set()
        return self.api

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and scope["method"] == "GET":
            response = await health(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.load_api()(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with open_backend(self.config) as backend:
            self.state.backend = backend
            preload = asyncio.create_task(self._preload_api(), name="backend-api-preload")
            try:
                yield
            finally:
                preload.cancel()
                await asyncio.gather(preload, return_exceptions=True)

    async def _preload_api(self) -> None:
        await asyncio.sleep(API_PRELOAD_DELAY)  # a scheduled wait: main's probes come first
        await asyncio.to_thread(importlib.import_module, API_MODULE)  # the loop keeps serving
        self.load_api()


def create_app(config: BackendConfig) -> BackendApp:
    """The backend app for ``config``; serve it with lifespan on."""
    return BackendApp(config)
