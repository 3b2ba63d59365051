"""Who may use the dashboard: Jupyter-style token login, Host check, Origin check.

- ``GET /?token=<login token>`` (the URL the frontend announces) with the current login token sets
  an HttpOnly, SameSite=Strict session cookie and redirects to ``/``. The login token is one-time:
  using it mints the next one, announced the same way (``on_new_url``).
- Every request must carry ``Host: 127.0.0.1:<port>`` or ``localhost:<port>`` (DNS rebinding) and,
  except the login itself, a valid session cookie; otherwise 403.
- State-changing methods also need an ``Origin`` of the dashboard itself (cross-site forgery).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bus.endpoints import LOOPBACK_HOST, LOOPBACK_NAMES

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenGate:
    """The login token and the sessions it opened, for one dashboard port.

    A session cookie is ``<id>.<HMAC of id>`` under ``secret``: a frontend restarted with the same
    secret (kept in the runtime dir, see :func:`frontend.secret.load_secret`) accepts the sessions
    of its predecessor, so an open page reconnects by itself.
    """

    def __init__(
        self, port: int, secret: bytes, on_new_url: Callable[[str], None] | None = None
    ) -> None:
        self.port = port
        self.cookie_name = f"ctxbus-dashboard-{port}"
        self._secret = secret
        self._on_new_url = on_new_url
        self._login = secrets.token_urlsafe(32)

    @property
    def url(self) -> str:
        """The dashboard URL with the current one-time login token."""
        return f"http://{LOOPBACK_HOST}:{self.port}/?token={self._login}"

    def allowed_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in LOOPBACK_NAMES}

    def allowed_origins(self) -> set[str]:
        return {f"http://{host}" for host in self.allowed_hosts()}

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()
        return f"{session_id}.{digest}"

    def login(self, token: str) -> str | None:
        """A new session cookie value if ``token`` is the current login token, else None.

        The token is then used up; the next login URL goes to ``on_new_url``.
        """
        if not hmac.compare_digest(token.encode(), self._login.encode()):
            return None
        self._login = secrets.token_urlsafe(32)
        if self._on_new_url is not None:
            self._on_new_url(self.url)
        return self._sign(secrets.token_urlsafe(16))

    def has_session(self, session: str | None) -> bool:
        if not session or "." not in session:
            return False
        session_id = session.rpartition(".")[0]
        return hmac.compare_digest(session.encode(), self._sign(session_id).encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if raw is None:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:  # a malformed Cookie header is just "no session"
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


class GateMiddleware:
    """ASGI middleware applying a :class:`TokenGate` to every HTTP request."""

    def __init__(self, app: ASGIApp, gate: TokenGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await PlainTextResponse(refusal, status_code=403)(scope, receive, send)
            return
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        has_session = self.gate.has_session(_cookie(scope, self.gate.cookie_name))
        if scope["path"] == "/" and token:
            if has_session:  # already logged in: a used login URL just opens the page
                await RedirectResponse("/", status_code=303)(scope, receive, send)
            else:
                await self._login(token[0], scope, receive, send)
            return
        if not has_session:
            message = "forbidden: open the dashboard with the URL that `ctxbus up` printed"
            await PlainTextResponse(message, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        if _header(scope, b"host") not in self.gate.allowed_hosts():
            return "forbidden: unexpected Host header"
        unsafe = scope["method"] not in SAFE_METHODS
        if unsafe and _header(scope, b"origin") not in self.gate.allowed_origins():
            return "forbidden: cross-origin request"
        return None

    async def _login(self, token: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.gate.login(token)
        if session is None:
            message = (
                "forbidden: this login token is wrong or was already used; see `ctxbus status`"
            )
            await PlainTextResponse(message, status_code=403)(scope, receive, send)
            return
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            self.gate.cookie_name, session, httponly=True, samesite="strict", path="/"
        )
        await response(scope, receive, send)
