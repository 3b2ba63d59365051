"""The backend process starts without what only some requests need (FastAPI, Starlette's app and
the API app, Pillow, pydantic.v1, the error models of the OpenAPI document), and loads each when
it is needed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import backend.app
from backend.database import DB_FILE
from services.foundation.backend_contract import BackendConfig
from tests.backend.conftest import TOKEN, Running, Serve, encode_image

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60.0  # seconds for a fresh python to import and build the backend app
WAIT_S = 30.0  # seconds for the API app to be built in the background

# Imports the backend as `python -m backend` does and builds its app, then reports which of the
# modules that only some requests need were loaded; then checks the PNG given in argv[1] (hex).
PROBE = """
import json, sys
from pathlib import Path
import backend.__main__
from backend.app import create_app
from backend.images import DeclaredImage, check_image
from services.foundation.backend_contract import BackendConfig

def loaded(name):
    return sys.modules.get(name) is not None

config = BackendConfig(port=1, token="t", instance="i", data_dir=Path("."), log_dir=Path("."))
app = create_app(config)
found = {
    "api_at_start": loaded("backend.api"),
    "fastapi_at_start": loaded("fastapi"),
    "starlette_app_at_start": loaded("starlette.applications"),
    "pil_at_start": loaded("PIL.Image"),
    "v1_at_start": loaded("pydantic.v1"),
}
png = bytes.fromhex(sys.argv[1])
check_image(png, DeclaredImage("image/png", 8, 6), 10_000)
found["pil_after_check"] = loaded("PIL.Image")
app.load_api()
found["v1_with_the_api"] = loaded("pydantic.v1")
print(json.dumps(found))
"""


def test_the_backend_starts_without_fastapi_pillow_and_pydantic_v1() -> None:
    """The backend's app starts without FastAPI, Starlette's app, Pillow or pydantic.v1."""
    png = encode_image("PNG", size=(8, 6)).hex()
    ran = subprocess.run(
        [sys.executable, "-c", PROBE, png],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=True,
    )
    found = json.loads(ran.stdout.splitlines()[-1])
    assert found == {
        "api_at_start": False,
        "fastapi_at_start": False,
        "starlette_app_at_start": False,
        "pil_at_start": False,
        "v1_at_start": False,
        "pil_after_check": True,
        "v1_with_the_api": False,
    }


async def test_the_first_api_request_includes_the_api_and_is_answered(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/health does not build the API app; the first /api request builds it and is answered."""
    monkeypatch.setattr(backend.app, "API_PRELOAD_DELAY", 3600.0)
    async with serve() as running:
        assert (await running.client.get("/health")).status_code == 200
        assert not running.app.api_loaded
        response = await running.client.get("/api/captures")
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []
        assert running.app.api_loaded


async def test_the_api_is_included_once_started_without_a_request(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no API request, the API app is built API_PRELOAD_DELAY after startup."""
    monkeypatch.setattr(backend.app, "API_PRELOAD_DELAY", 0.0)
    async with serve() as running:
        async with asyncio.timeout(WAIT_S):
            await running.app.api_ready.wait()
        assert running.app.api_loaded
        assert (await running.client.get("/health")).status_code == 200


async def test_every_listed_error_answer_is_documented_as_error_out(running: Running) -> None:
    """In /openapi.json each 4xx/5xx answer an /api route lists has the ErrorOut schema."""
    schema = (await running.client.get("/openapi.json")).json()
    error_out = {"$ref": "#/components/schemas/ErrorOut"}
    assert "ErrorOut" in schema["components"]["schemas"]
    listed = {
        (path, method, code): answer
        for path, operations in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
        for code, answer in operation["responses"].items()
        if code[0] in "45"
    }
    assert ("/api/captures", "post", "507") in listed
    assert ("/api/search", "get", "503") in listed
    for key, answer in listed.items():
        if key[2] != "422":  # only the captures routes list 422; others keep FastAPI's own
            assert answer["content"]["application/json"]["schema"] == error_out, key
    upload_invalid = listed["/api/captures", "post", "422"]
    assert upload_invalid["content"]["application/json"]["schema"] == error_out


def test_a_backend_that_cannot_open_its_database_fails_its_startup(tmp_path: Path) -> None:
    """`python -m backend` whose database cannot be opened fails its startup: exit 3, and why."""
    data_dir, log_dir = tmp_path / "data", tmp_path / "log"
    data_dir.mkdir(mode=0o700)
    (data_dir / DB_FILE).mkdir()  # a directory where the database file should be
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        config = BackendConfig(
            port=listener.getsockname()[1],
            token=TOKEN,
            instance="test-instance",
            data_dir=data_dir,
            log_dir=log_dir,
            listen_fd=listener.fileno(),
        )
        ran = subprocess.run(
            [sys.executable, "-m", "backend"],
            cwd=REPO,
            env=os.environ | config.to_env(),
            pass_fds=(listener.fileno(),),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    assert ran.returncode == 3, ran.stderr
    assert "cannot open the database" in ran.stderr
