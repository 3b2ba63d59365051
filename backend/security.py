"""Request guard: a pure ASGI middleware in front of every route.

1. The Host header must be exactly ``127.0.0.1:<port>`` or ``localhost:<port>``: a page on another
   origin that rebinds its DNS name to 127.0.0.1 still sends its own Host, and gets a 400.
2. Every path but the open ones (``/health``) needs ``Authorization: Bearer <token>``, compared in
   constant time; anything else gets a 401.

It looks at the raw header list once per request and builds no Request object.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from backend.errors import error_body
from bus.endpoints import LOOPBACK_NAMES
from services.foundation.backend_contract import HEALTH_PATH, BackendConfig

OPEN_PATHS = frozenset({HEALTH_PATH})


class RequestGuard:
    """Refuses foreign Host headers (400) and missing or wrong bearer tokens (401)."""

    def __init__(self, app: ASGIApp, config: BackendConfig) -> None:
        self._app = app
        self._hosts = frozenset({f"{name}:{config.port}".encode() for name in LOOPBACK_NAMES})
        self._authorization = f"Bearer {config.token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        hosts: list[bytes] = []
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"host":
                hosts.append(value)
            elif name == b"authorization":
                authorization = value
        if len(hosts) != 1 or hosts[0] not in self._hosts:
            await _refuse(scope, send, 400, "bad_host", _BAD_HOST)
        elif scope["path"] in OPEN_PATHS or hmac.compare_digest(authorization, self._authorization):
            await self._app(scope, receive, send)
        else:
            await _refuse(scope, send, 401, "unauthorized", _UNAUTHORIZED)


_BAD_HOST = (
    "the Host header must be 127.0.0.1:<port> or localhost:<port>; "
    "connect to the backend by that address"
)
_UNAUTHORIZED = (
    "send Authorization: Bearer <token>, with the token main gives out (bus op get_port)"
)


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message})
        return
    body = error_body(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
