"""The request guard: Host header check and bearer token on every route but /health."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.backend.conftest import Running, backend_config, serve_backend

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One backend for the module: these checks store nothing."""
    async with serve_backend(backend_config(tmp_path_factory.mktemp("security"))) as running:
        yield running


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic dGVzdDp0ZXN0"}],
    ids=["missing", "wrong", "basic"],
)
async def test_api_needs_the_token(shared: Running, headers: dict[str, str]) -> None:
    """/api routes answer 401 with a JSON error without the right bearer token."""
    async with httpx.AsyncClient(base_url=shared.base_url) as client:
        response = await client.get("/api/captures", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_openapi_needs_the_token(shared: Running) -> None:
    """Even the API description is behind the token."""
    response = await shared.client.get("/openapi.json", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


async def test_right_token_passes(shared: Running) -> None:
    """With the token, /api routes answer."""
    assert (await shared.client.get("/api/captures")).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1", "127.0.0.1:1", "[::1]:{port}"]
)
async def test_foreign_host_is_refused(shared: Running, host: str) -> None:
    """A Host other than 127.0.0.1:<port> or localhost:<port> gets 400, even on /health."""
    headers = {"Host": host.format(port=shared.config.port)}
    for path in ("/health", "/api/captures"):
        response = await shared.client.get(path, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_host"


async def test_localhost_host_is_accepted(shared: Running) -> None:
    """Host localhost:<port> is as good as 127.0.0.1:<port>."""
    headers = {"Host": f"localhost:{shared.config.port}"}
    assert (await shared.client.get("/api/captures", headers=headers)).status_code == 200


async def test_no_cors_headers(shared: Running) -> None:
    """A cross-origin request gets no Access-Control-Allow-Origin."""
    response = await shared.client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers
