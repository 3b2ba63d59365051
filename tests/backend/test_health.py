"""GET /health: shape, no auth needed, nothing sensitive."""

from __future__ import annotations

import os

from backend.schemas import Health, Liveness
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


async def test_health_answers_are_what_the_openapi_document_says(running: Running) -> None:
    """Each /health answer (served without pydantic) is exactly its documented model's dump."""
    with_token = (await running.client.get("/health")).json()
    assert Health.model_validate(with_token).model_dump(mode="json") == with_token
    bare = (await running.client.get("/health", headers={"Authorization": ""})).json()
    assert Liveness.model_validate(bare).model_dump(mode="json") == bare


async def test_other_methods_on_health_get_the_api_error_shape(running: Running) -> None:
    """POST /health is a JSON 405 from the API, as every wrong method is."""
    response = await running.client.post("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
