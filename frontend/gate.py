"""Who may use the dashboard: Jupyter-style token login, its own host name, sessions that end.

- The dashboard lives at ``http://<host>:<port>/``, ``<host>`` being this install's random
  ``ctxbus-….localhost`` name (:mod:`services.foundation.dashboard_host`): browsers scope cookies
  by host, not by port, so a cookie of ``127.0.0.1`` would reach every loopback server, while this
  host-only cookie (no ``Domain``, ``SameSite=Strict``, ``HttpOnly``, ``Path=/``) reaches only
  servers on a name no other program knows.
- ``GET /?token=<login token>`` (the URL the frontend announces) with the current login token sets
  the session cookie and redirects to ``/``. The login token is one-time: using it mints the next
  one, announced the same way (``on_new_url``). On ``127.0.0.1:<port>`` or ``localhost:<port>``
  only that login URL is answered, with a redirect to the same URL on the dashboard's host (so the
  name is told only to whoever holds the token, and no cookie is ever set on a shared host);
  anything else there is 403.
- Every other request must carry ``Host: <host>:<port>`` (DNS rebinding) and a valid session
  cookie (403 without one, 401 once it expired); state-changing methods also need an ``Origin``
  of the dashboard itself (cross-site forgery).
- A session ends ``idle`` seconds after its last request and ``max`` seconds after its login,
  whichever comes first. The cookie carries both times, signed; each request refreshes the last
  one (a new ``Set-Cookie``), so a restarted frontend with the same secret (the launcher's run,
  :mod:`frontend.secret`) accepts the sessions of its predecessor and an open page reconnects.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from enum import Enum
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

import msgspec
from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.endpoints import LOOPBACK_NAMES

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOUR = 3600.0
DEFAULT_IDLE = 12 * HOUR
DEFAULT_MAX = 7 * 24 * HOUR
REFRESH_EVERY = 60.0  # seconds between cookie refreshes of a session in use (at most)
LOGIN_HINT = "open the dashboard with the URL that `ctxbus up` printed (see `ctxbus status`)"


class SessionLimits(msgspec.Struct, frozen=True):
    """How long a session lasts: ``idle`` seconds after its last request, ``max`` after login."""

    idle: float = DEFAULT_IDLE
    max: float = DEFAULT_MAX


DEFAULT_LIMITS = SessionLimits()


class Verdict(Enum):
    """What a session cookie is worth now."""

    MISSING = "missing"  # none, malformed or not ours (another secret)
    EXPIRED = "expired"
    VALID = "valid"


class Session(msgspec.Struct, frozen=True):
    """A checked cookie: its verdict, and the refreshed cookie value to send back, if due."""

    verdict: Verdict
    refreshed: str | None = None


class TokenGate:
    """The login token and the sessions it opened, for one dashboard (host name and port).

    A session cookie is ``<id>.<login ms>.<last seen ms>.<HMAC of the three>`` under ``secret``.
    """

    def __init__(
        self,
        port: int,
        secret: bytes,
        host: str,
        on_new_url: Callable[[str], None] | None = None,
        *,
        limits: SessionLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.port = port
        self.host = host
        self.cookie_name = f"ctxbus-dashboard-{port}"
        self.limits = limits
        self._secret = secret
        self._on_new_url = on_new_url
        self._clock = clock
        self._login = secrets.token_urlsafe(32)

    @property
    def origin(self) -> str:
        """``http://<host>:<port>``: the dashboard's one origin."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The dashboard URL with the current one-time login token."""
        return f"{self.origin}/?token={self._login}"

    def allowed_hosts(self) -> set[str]:
        """The one Host header the dashboard serves."""
        return {f"{self.host}:{self.port}"}

    def login_hosts(self) -> set[str]:
        """The Host headers where only the login URL is answered (with a redirect)."""
        return {f"{name}:{self.port}" for name in LOOPBACK_NAMES}

    def allowed_origins(self) -> set[str]:
        return {self.origin}

    def is_login_token(self, token: str) -> bool:
        """Whether ``token`` is the current login token (without using it up)."""
        return hmac.compare_digest(token.encode(), self._login.encode())

    def login(self, token: str) -> str | None:
        """A new session cookie value if ``token`` is the current login token, else None.

        The token is then used up; the next login URL goes to ``on_new_url``.
        """
        if not self.is_login_token(token):
            return None
        self._login = secrets.token_urlsafe(32)
        if self._on_new_url is not None:
            self._on_new_url(self.url)
        now = self._now_ms()
        return self._sign(secrets.token_urlsafe(16), now, now)

    def check(self, cookie: str | None) -> Session:
        """What ``cookie`` is worth now, and its refreshed value when the last refresh is old."""
        parsed = self._verify(cookie)
        if parsed is None:
            return Session(Verdict.MISSING)
        session_id, issued, seen = parsed
        now = self._now_ms()
        if now - seen > self.limits.idle * 1000 or now - issued > self.limits.max * 1000:
            return Session(Verdict.EXPIRED)
        due = now - seen >= min(REFRESH_EVERY, self.limits.idle / 4) * 1000
        return Session(Verdict.VALID, self._sign(session_id, issued, now) if due else None)

    def has_session(self, cookie: str | None) -> bool:
        """Whether ``cookie`` is a valid, unexpired session of this gate."""
        return self.check(cookie).verdict is Verdict.VALID

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _sign(self, session_id: str, issued: int, seen: int) -> str:
        body = f"{session_id}.{issued}.{seen}"
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{digest}"

    def _verify(self, cookie: str | None) -> tuple[str, int, int] | None:
        parts = (cookie or "").split(".")
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        session_id, issued, seen = parts[0], int(parts[1]), int(parts[2])
        if not hmac.compare_digest(cookie or "", self._sign(session_id, issued, seen)):
            return None
        return session_id, issued, seen


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


def _token(scope: Scope) -> str | None:
    found = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return found[0] if found and scope["path"] == "/" else None


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status, headers={"Cache-Control": "no-store"})


class GateMiddleware:
    """ASGI middleware applying a :class:`TokenGate` to every HTTP request."""

    def __init__(self, app: ASGIApp, gate: TokenGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = self._answer(scope)
        if response is not None:
            await response(scope, receive, send)
            return
        session = self.gate.check(_cookie(scope, self.gate.cookie_name))
        token = _token(scope)
        if token is not None:
            await self._login(token, session, scope, receive, send)
        elif session.verdict is Verdict.MISSING:
            await _text(403, f"forbidden: {LOGIN_HINT}")(scope, receive, send)
        elif session.verdict is Verdict.EXPIRED:
            await _text(401, f"your session expired: {LOGIN_HINT}")(scope, receive, send)
        else:
            await self.app(scope, receive, self._refreshing(send, session.refreshed))

    def _answer(self, scope: Scope) -> Response | None:
        """A response decided by Host and Origin alone (a refusal, or the login redirect)."""
        host = _header(scope, b"host")
        if host in self.gate.login_hosts():
            token = _token(scope)
            if scope["method"] == "GET" and token is not None and self.gate.is_login_token(token):
                return RedirectResponse(self.gate.url, status_code=303)
            return _text(403, f"forbidden: {LOGIN_HINT}")
        if host not in self.gate.allowed_hosts():
            return _text(403, "forbidden: unexpected Host header")
        unsafe = scope["method"] not in SAFE_METHODS
        if unsafe and _header(scope, b"origin") not in self.gate.allowed_origins():
            return _text(403, "forbidden: cross-origin request")
        return None

    def _refreshing(self, send: Send, refreshed: str | None) -> Send:
        """``send`` that adds the refreshed session cookie to the response head."""
        if refreshed is None:
            return send
        cookie = self._cookie_header(refreshed)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        return sending

    def _cookie_header(self, value: str) -> str:
        response = Response()
        response.set_cookie(
            self.gate.cookie_name, value, httponly=True, samesite="strict", path="/"
        )
        return response.headers["set-cookie"]

    async def _login(
        self, token: str, session: Session, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if session.verdict is Verdict.VALID:  # already logged in: a used login URL opens the page
            await RedirectResponse("/", status_code=303)(scope, receive, send)
            return
        value = self.gate.login(token)
        if value is None:
            message = (
                "forbidden: this login token is wrong or was already used; see `ctxbus status`"
            )
            await _text(403, message)(scope, receive, send)
            return
        response = RedirectResponse("/", status_code=303)
        response.headers.append("set-cookie", self._cookie_header(value))
        await response(scope, receive, send)
