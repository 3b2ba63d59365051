"""GET /health: shape, no auth needed, nothing sensitive."""

from __future__ import annotations

import os

from tests.backend.conftest import TOKEN, Running


async def test_health_without_token_says_only_liveness(running: Running) -> None:
    """Without the token /health says status, service and version: no counts, no free space."""
    for authorization in ("", "Bearer wrong-token", f"Basic {TOKEN}"):
        response = await running.client.get("/health", headers={"Authorization": authorization})
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "service": "ctxbus-backend",
            "version": response.json()["version"],
        }


async def test_health_shape_with_token(running: Running) -> None:
    """/health with the token adds the reason, identity and components."""
    response = await running.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "ctxbus-backend"
    assert body["pid"] == os.getpid()
    assert body["instance"] == "test-instance"
    assert body["uptime_s"] >= 0
    assert isinstance(body["version"], str)
    components = body["components"]
    assert body["reason"] is None
    assert components["database"] == {"ok": True, "error": None}
    assert components["storage"]["captures"] == 0
    assert components["storage"]["bytes"] == 0
    assert components["storage"]["free_bytes"] > 0
    assert components["retention"]["max_age_days"] == 15.0
    assert components["retention"]["max_bytes"] == 10 * 1024**3


async def test_health_reveals_no_path_or_token(running: Running) -> None:
    """/health mentions neither the token nor the data dir."""
    text = (await running.client.get("/health")).text
    assert TOKEN not in text
    assert str(running.config.data_dir) not in text
