"""The dashboard's HTTP app: the page, its live event stream, the restart action, the API proxy.

A Starlette app (FastAPI, which is built on it, would add pydantic and about 14 MB to the process
for routes that validate nothing). Routes (all behind :class:`frontend.gate.GateMiddleware`):

- ``GET /``: the page (``static/index.html``); ``/static/*``: its script and style.
- ``GET /events``: server-sent events (see :mod:`frontend.events`).
- ``POST /actions/restart-backend``: main's ``restart_backend`` op; 202, or 503 with the reason.
- ``POST /actions/capture/{pause,resume,now}``: capture's ops (:mod:`frontend.capture_actions`).
- ``/api/{path}``: proxied to the backend with its bearer token (:mod:`frontend.proxy`, imported
  with the backend link once the dashboard serves: :mod:`frontend.backend_link`).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bus import Accepted, AsyncRequester, BusError, MainOps, NoArgs, Op, RemoteError
from frontend.backend_link import BackendLink
from frontend.capture_actions import capture_routes
from frontend.events import EventHub
from frontend.gate import GateMiddleware, TokenGate
from frontend.settings import MAX_BODY

STATIC_DIR = Path(__file__).parent / "static"


class AppParts(msgspec.Struct, frozen=True):
    """What the app's routes use: the gate, the event hub, the backend link, main's and capture's
    op endpoints, the largest request body the proxy passes on."""

    gate: TokenGate
    hub: EventHub
    backend: BackendLink
    control: AsyncRequester
    capture: AsyncRequester
    max_body: int = MAX_BODY


def create_app(parts: AppParts) -> Starlette:
    """The dashboard app for one frontend process."""
    middleware = [Middleware(GateMiddleware, gate=parts.gate)]
    return Starlette(routes=_routes(parts), middleware=middleware)


def _routes(parts: AppParts) -> list[BaseRoute]:
    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> StreamingResponse:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            parts.hub.stream(), media_type="text/event-stream", headers=headers
        )

    async def restart_backend(request: Request) -> JSONResponse:
        return await _op(parts.control, MainOps.RESTART_BACKEND)

    async def api(request: Request) -> Response:
        backend = await parts.backend.client()
        if backend is None:
            return JSONResponse({"detail": "the dashboard is stopping"}, status_code=502)
        from frontend.proxy import proxy  # loaded by the link's opening: a dict lookup here

        return await proxy(backend, request, parts.max_body)

    return [
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        *capture_routes(parts.capture),
        Route("/", page, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Route("/actions/restart-backend", restart_backend, methods=["POST"]),
        Route("/api/{path:path}", api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


async def _op(control: AsyncRequester, op: Op[NoArgs, Accepted]) -> JSONResponse:
    try:
        result = await control.call(op)
    except RemoteError as exc:
        return JSONResponse({"accepted": False, "error": exc.message}, status_code=409)
    except BusError as exc:
        return JSONResponse({"accepted": False, "error": str(exc)}, status_code=503)
    return JSONResponse({"accepted": result.accepted}, status_code=202)
