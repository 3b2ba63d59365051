"""The dashboard's gate in-process (the ASGI app, no network): token, cookie, Host, Origin, and
sessions that end (a fake clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bus import AsyncRequester, Endpoints
from frontend.app import AppParts, create_app
from frontend.backend_link import BackendLink
from frontend.events import EventHub
from frontend.gate import SessionLimits, TokenGate
from services.foundation.backend_client import BackendClient

PORT = 1734
HOST = "ctxbus-abcde12345.localhost"
BASE = f"http://{HOST}:{PORT}"
SECRET = b"s" * 32
LIMITS = SessionLimits(idle=600.0, max=3600.0)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def announced() -> list[str]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(announced: list[str], clock: Clock) -> TokenGate:
    return TokenGate(PORT, SECRET, HOST, announced.append, limits=LIMITS, clock=clock)


@pytest.fixture
def transport(gate: TokenGate, runtime_dir: Path) -> Iterator[httpx.ASGITransport]:
    """The dashboard app, in-process; main is absent (these routes never reach it)."""
    endpoints = Endpoints(runtime_dir)
    control = AsyncRequester(endpoints.control, timeout=0.1, retries=1)
    capture = AsyncRequester(endpoints.capture, timeout=0.1, retries=1)
    parts = AppParts(
        gate=gate,
        hub=EventHub(),
        backend=BackendLink.of(BackendClient(endpoints, requester=control)),
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


async def test_login_sets_a_strict_httponly_host_only_cookie(
    client: httpx.AsyncClient, gate: TokenGate
) -> None:
    """The login URL (on the dashboard's own host name) redirects to / with an HttpOnly,
    SameSite=Strict, host-only (no Domain), Path=/ session cookie."""
    assert gate.url.startswith(f"http://{HOST}:{PORT}/?token=")
    response = await client.get(gate.url)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    attributes = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert not [part for part in attributes if part.startswith("domain")]
    assert (await client.get("/")).status_code == 200


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_loopback_host_only_redirects_the_login_url(
    transport: httpx.ASGITransport, gate: TokenGate, name: str
) -> None:
    """On 127.0.0.1/localhost the valid login URL redirects to the same URL on the dashboard's
    host without setting a cookie or using the token up; anything else there is 403."""
    base = f"http://{name}:{PORT}"
    async with httpx.AsyncClient(transport=transport, base_url=base) as plain:
        url = gate.url
        response = await plain.get(url.replace(f"http://{HOST}:{PORT}", base))
        assert response.status_code == 303
        assert response.headers["location"] == url
        assert "set-cookie" not in response.headers
        assert gate.url == url, "the token is not used up by the redirect"
        for path in ("/", "/?token=wrong", "/events", "/api/captures", "/static/app.js"):
            refused = await plain.get(path)
            assert refused.status_code == 403, path
            assert "set-cookie" not in refused.headers
            assert HOST not in refused.text


async def test_loopback_host_refuses_a_valid_session(
    client: httpx.AsyncClient, transport: httpx.ASGITransport, gate: TokenGate
) -> None:
    """A session cookie replayed to 127.0.0.1:<port> does not open the dashboard there."""
    await login(client, gate)
    cookie = f"{gate.cookie_name}={client.cookies[gate.cookie_name]}"
    async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{PORT}") as plain:
        assert (await plain.get("/", headers={"Cookie": cookie})).status_code == 403


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
    """A Host other than the dashboard's name and port is refused (DNS rebinding)."""
    await login(client, gate)
    for host in ("evil.example:1734", f"{HOST}:9999", HOST, "ctxbus-00000aaaaa.localhost:1734"):
        assert (await client.get("/", headers={"Host": host})).status_code == 403, host
    assert (await client.get("/", headers={"Host": f"{HOST}:{PORT}"})).status_code == 200


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
    assert TokenGate(PORT, SECRET, HOST).has_session(cookie)
    assert not TokenGate(PORT, b"t" * 32, HOST).has_session(cookie)
    assert not TokenGate(PORT, SECRET, HOST).has_session(cookie + "x")


async def test_idle_session_expires(
    client: httpx.AsyncClient, gate: TokenGate, clock: Clock
) -> None:
    """A session unused for longer than the idle limit answers 401 (and opens nothing)."""
    await login(client, gate)
    clock.now += LIMITS.idle + 1
    for path in ("/", "/events", "/api/captures"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "expired" in response.text


async def test_session_in_use_is_refreshed_until_the_absolute_limit(
    client: httpx.AsyncClient, gate: TokenGate, clock: Clock
) -> None:
    """Each request renews the idle limit (a new cookie), but never past the absolute limit."""
    await login(client, gate)
    first = client.cookies[gate.cookie_name]
    step = LIMITS.idle * 0.9
    used = 0.0
    while used + step < LIMITS.max:
        clock.now += step
        used += step
        assert (await client.get("/")).status_code == 200, f"{used} s after login"
    assert client.cookies[gate.cookie_name] != first
    clock.now += LIMITS.max - used + 1
    assert (await client.get("/")).status_code == 401


async def test_expired_session_can_log_in_again(
    client: httpx.AsyncClient, gate: TokenGate, clock: Clock
) -> None:
    """After expiry, the announced login URL opens a new session."""
    await login(client, gate)
    clock.now += LIMITS.max + 1
    assert (await client.get("/")).status_code == 401
    await login(client, gate)
    assert (await client.get("/")).status_code == 200


def test_forged_times_are_refused(gate: TokenGate, clock: Clock) -> None:
    """A cookie whose times were edited (to stay young) is no session: the MAC covers them."""
    cookie = gate.login(gate.url.rpartition("=")[2])
    assert cookie is not None
    session_id, issued, _seen, mac = cookie.split(".")
    clock.now += LIMITS.idle + 1
    young = str(int(clock.now * 1000))
    assert not gate.has_session(f"{session_id}.{issued}.{young}.{mac}")
    assert not gate.has_session(cookie)
