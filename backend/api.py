"""The backend's HTTP API as a FastAPI app: the ``/api`` routes, the handlers that give every
error the house JSON shape (:mod:`backend.error_handlers`), the OpenAPI document, and
``GET /health`` (:func:`backend.health.health_body`).

Built by :class:`backend.app.BackendApp`, which gives it the live
:class:`backend.runtime.Backend` its lifespan opens.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response

from backend import captures, search_api, text_api
from backend.api_docs import attach_error_models
from backend.error_handlers import install_error_handlers
from backend.health import VERSION, health_body
from backend.runtime import Backend, get_backend
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


async def health(request: Request) -> Response:
    """Whether the backend works (no token needed); with the token, why not and its parts."""
    authorization = request.headers.get("authorization", "").encode()
    body = await health_body(get_backend(request), authorization)
    return Response(body, media_type="application/json")


def create_api(backend: Backend | None) -> ApiApp:
    """The API app for ``backend`` (None until the lifespan opens it; then set in its state)."""
    api = ApiApp(  # no docs pages: they load their script from a CDN (openapi.json stays)
        title="ctxbus backend",
        version=VERSION,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    api.state.backend = backend  # what backend.runtime.get_backend reads
    install_error_handlers(api)
    api.add_api_route(
        HEALTH_PATH, health, methods=["GET"], response_model=Health | Liveness, tags=["health"]
    )
    api.include_router(text_api.router)  # before captures: /api/captures/backlog is no capture id
    api.include_router(captures.router)
    api.include_router(search_api.router)
    return api
