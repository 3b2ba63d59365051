"""The backend serves no docs pages: Swagger UI and ReDoc load their scripts from a CDN."""

from __future__ import annotations

from tests.backend.conftest import Running


async def test_docs_pages_are_off(running: Running) -> None:
    """/docs and /redoc are 404 even with the token; the OpenAPI schema stays."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = await running.client.get(path)
        assert response.status_code == 404, path
        assert "cdn" not in response.text.lower()
    assert (await running.client.get("/openapi.json")).status_code == 200
