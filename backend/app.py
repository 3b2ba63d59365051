"""The backend's FastAPI app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket
main hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`;
the text on captures and ``/api/search``: :mod:`backend.text_api`, :mod:`backend.search_api`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.

The ``/api`` routes are imported and included on the first request for anything but ``/health``
(or :data:`API_PRELOAD_DELAY` seconds after startup, whichever comes first): their modules,
models and routes are ~25 ms of start-up that main's readiness probe, ``/health``, does not use.
Every route answers from the first request; the first ``/api`` one only waits for them.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from backend.api_docs import attach_error_models
from backend.errors import install_error_handlers
from backend.health import VERSION
from backend.health import router as health_router
from backend.runtime import open_backend
from backend.security import RequestGuard
from services.foundation.backend_contract import HEALTH_PATH, BackendConfig

DESCRIPTION = (
    "Local ctxbus backend. Every route except /health needs `Authorization: Bearer <token>` and "
    "a Host of `127.0.0.1:<port>` or `localhost:<port>`. Errors are "
    '`{"error": {"code", "message"}}`.'
)
# Included in this order: the text routes first, /api/captures/backlog is no capture id.
API_ROUTERS = ("backend.text_api", "backend.captures", "backend.search_api")
API_PRELOAD_DELAY = 1.0  # seconds after startup: once main's first probes are answered


class BackendApp(FastAPI):
    """FastAPI with the ``/api`` routes included on first need, and an OpenAPI document in which
    every error answer a route lists is an ``ErrorOut`` (:mod:`backend.api_docs`)."""

    api_included = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.api_included and scope["type"] == "http" and scope["path"] != HEALTH_PATH:
            self.include_api()
        await super().__call__(scope, receive, send)

    def include_api(self) -> None:
        """Import and include the ``/api`` routers (once)."""
        if self.api_included:
            return
        self.api_included = True
        for name in API_ROUTERS:
            self.include_router(importlib.import_module(name).router)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.include_api()
            attach_error_models(self.routes)
        return super().openapi()


def create_app(config: BackendConfig) -> BackendApp:
    """The backend app for ``config``; serve it with lifespan on."""

    @asynccontextmanager
    async def lifespan(app: BackendApp) -> AsyncIterator[None]:
        async with open_backend(config) as backend:
            app.state.backend = backend
            preload = asyncio.get_running_loop().call_later(API_PRELOAD_DELAY, app.include_api)
            try:
                yield
            finally:
                preload.cancel()

    app = BackendApp(  # no docs pages: they load their script from a CDN (openapi.json stays)
        title="ctxbus backend",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.add_middleware(RequestGuard, config=config)
    return app
