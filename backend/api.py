"""The backend's HTTP API as a FastAPI app: the ``/api`` routes, the handlers that give every
error the house JSON shape (:mod:`backend.error_handlers`), and the OpenAPI document, which
describes ``GET /health`` too (served by :class:`backend.app.BackendApp` before FastAPI is
imported, with the same function).

Built by :class:`backend.app.BackendApp` on first need; it shares that app's state (the live
:class:`backend.runtime.Backend`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import State

from backend import captures, search_api, text_api
from backend.api_docs import attach_error_models
from backend.error_handlers import install_error_handlers
from backend.health import VERSION, health
from backend.schemas import Health, Liveness
from services.foundation.backend_contract import HEALTH_PATH

DESCRIPTION = (
    "Local ctxbus backend. Every route except /health needs `Authorization: Bearer <token>` and "
    "a Host of `127.0.0.1:<port>` or `localhost:<port>`. Errors are "
    '`{"error": {"code", "message"}}`.'
)


class ApiApp(FastAPI):
    """FastAPI whose OpenAPI document gives every error answer a route lists the ``ErrorOut``
    shape (:mod:`backend.api_docs`)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            attach_error_models(self.routes)
        return super().openapi()


def create_api(state: State) -> ApiApp:
    """The API app, sharing ``state`` with the app that serves it."""
    api = ApiApp(  # no docs pages: they load their script from a CDN (openapi.json stays)
        title="ctxbus backend",
        version=VERSION,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    api.state = state
    install_error_handlers(api)
    api.add_api_route(
        HEALTH_PATH, health, methods=["GET"], response_model=Health | Liveness, tags=["health"]
    )
    api.include_router(text_api.router)  # before captures: /api/captures/backlog is no capture id
    api.include_router(captures.router)
    api.include_router(search_api.router)
    return api
