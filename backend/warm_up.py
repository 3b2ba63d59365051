"""One in-process ``GET /health`` through an ASGI app, before the backend accepts.

The first request through an app builds what it builds lazily (Starlette's middleware stack,
FastAPI's routing and error handlers) and loads the code paths of a request; doing it before the
ready line means the first real request is as quick as any.
"""

from __future__ import annotations

from typing import Any

import structlog

from services.foundation.backend_contract import HEALTH_PATH

log = structlog.get_logger(__name__)


async def warm_up(app: Any, port: int) -> None:
    """Send ``GET /health`` through ``app`` in this process; a failure only costs speed."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": HEALTH_PATH,
        "raw_path": HEALTH_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", f"127.0.0.1:{port}".encode())],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", port),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - a warm-up failure only costs speed
        log.warning("warm_up_failed", error=str(exc))
