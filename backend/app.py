"""The backend's FastAPI app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket
main hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`;
the text on captures and ``/api/search``: :mod:`backend.text_api`, :mod:`backend.search_api`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend.api_docs import BackendApp
from backend.captures import router as captures_router
from backend.errors import install_error_handlers
from backend.health import VERSION
from backend.health import router as health_router
from backend.runtime import open_backend
from backend.search_api import router as search_router
from backend.security import RequestGuard
from backend.text_api import router as text_router
from services.foundation.backend_contract import BackendConfig

DESCRIPTION = (
    "Local ctxbus backend. Every route except /health needs `Authorization: Bearer <token>` and "
    "a Host of `127.0.0.1:<port>` or `localhost:<port>`. Errors are "
    '`{"error": {"code", "message"}}`.'
)


def create_app(config: BackendConfig) -> FastAPI:
    """The backend app for ``config``; serve it with lifespan on."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_backend(config) as backend:
            app.state.backend = backend
            yield

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
    app.include_router(text_router)  # before captures: /api/captures/backlog is no capture id
    app.include_router(captures_router)
    app.include_router(search_router)
    app.add_middleware(RequestGuard, config=config)
    return app
