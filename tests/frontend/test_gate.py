"""The dashboard's gate in-process (the ASGI app, no network): token, cookie, Host, Origin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bus import AsyncRequester, Endpoints
from frontend.app import AppParts, create_app
from frontend.events import EventHub
from frontend.gate import TokenGate
from services.foundation.backend_client import BackendClient

PORT = 1734
BASE = f"http://127.0.0.1:{PORT}"
SECRET = b"s" * 32


@pytest.fixture
def announced() -> list[str]:
    return []


@pytest.fixture
def gate(announced: list[str]) -> TokenGate:
    return TokenGate(PORT, SECRET, announced.append)


@pytest.fixture
def transport(gate: TokenGate, runtime_dir: Path) -> Iterator[httpx.ASGITransport]:
    """The dashboard app, in-process; main is absent (these routes never reach it)."""
    endpoints = Endpoints(runtime_dir)
    control = AsyncRequester(endpoints.control, timeout=0.1, retries=1)
    capture = AsyncRequester(endpoints.capture, timeout=0.1, retries=1)
    parts = AppParts(
        gate=gate,
        hub=EventHub(),
        backend=BackendClient(endpoints, requester=control),
        control=control,
        capture=capture,
    )
    yield httpx.ASGITransport(app=create_app(parts))
    control.close()
    capture.close()


@pytest.fixture
async def client(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the dashboard (its cookies persist between requests)."""
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def login(client: httpx.AsyncClient, gate: TokenGate) -> None:
    response = await client.get(gate.url)
    assert response.status_code == 303


async def test_no_cookie_is_forbidden(client: httpx.AsyncClient) -> None:
    """Without the session cookie the page, the stream and the static files answer 403."""
    for path in ("/", "/events", "/static/app.js", "/api/captures"):
        assert (await client.get(path)).status_code == 403, path


async def test_login_sets_a_strict_httponly_cookie(
    client: httpx.AsyncClient, gate: TokenGate
) -> None:
    """The login URL redirects to / with an HttpOnly, SameSite=Strict session cookie."""
    response = await client.get(gate.url)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert (await client.get("/")).status_code == 200


async def test_login_token_is_used_up(
    client: httpx.AsyncClient,
    transport: httpx.ASGITransport,
    gate: TokenGate,
    announced: list[str],
) -> None:
    """A login token works once; the next URL is announced."""
    url = gate.url
    await login(client, gate)
    assert announced == [gate.url]
    assert gate.url != url
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as stranger:
        assert (await stranger.get(url)).status_code == 403


async def test_wrong_token_is_forbidden(client: httpx.AsyncClient) -> None:
    """A wrong login token answers 403 and sets no cookie."""
    response = await client.get("/?token=not-the-token")
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_foreign_host_is_forbidden(client: httpx.AsyncClient, gate: TokenGate) -> None:
    """A Host other than 127.0.0.1/localhost on the dashboard port is refused (DNS rebinding)."""
    await login(client, gate)
    for host in ("evil.example:1734", "127.0.0.1:9999", "localhost"):
        assert (await client.get("/", headers={"Host": host})).status_code == 403, host
    assert (await client.get("/", headers={"Host": f"localhost:{PORT}"})).status_code == 200


async def test_state_change_needs_same_origin(client: httpx.AsyncClient, gate: TokenGate) -> None:
    """POST without Origin or from another origin is refused before it reaches main."""
    await login(client, gate)
    url = "/actions/restart-backend"
    assert (await client.post(url)).status_code == 403
    assert (await client.post(url, headers={"Origin": "http://evil.example"})).status_code == 403
    same = await client.post(url, headers={"Origin": BASE})
    assert same.status_code == 503, "past the gate; main is absent here"


async def test_session_survives_a_new_gate_with_the_same_secret(
    client: httpx.AsyncClient, gate: TokenGate
) -> None:
    """A restarted frontend (same secret) accepts the session; another secret does not."""
    await login(client, gate)
    cookie = client.cookies[gate.cookie_name]
    assert TokenGate(PORT, SECRET).has_session(cookie)
    assert not TokenGate(PORT, b"t" * 32).has_session(cookie)
    assert not TokenGate(PORT, SECRET).has_session(cookie + "x")
