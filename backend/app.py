"""The backend's FastAPI app. ``backend/__main__.py`` serves ``create_app(config)`` on the socket
main hands over; the lifespan opens the database and storage and starts maintenance.

Routes: ``GET /health`` (open), ``/api/captures...`` (bearer token); see :mod:`backend.captures`.
No CORS: the UI reaches the backend through the frontend's proxy, never from a browser origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend.captures import router as captures_router
from backend.errors import install_error_handlers
from backend.health import VERSION
from backend.health import router as health_router
from backend.runtime import open_backend
from backend.security import RequestGuard
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

    app = FastAPI(
        title="ctxbus backend", version=VERSION, description=DESCRIPTION, lifespan=lifespan
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(captures_router)
    app.add_middleware(RequestGuard, config=config)
    return app
