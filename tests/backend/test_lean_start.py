"""The backend loads what only some requests need when they come (Pillow, the error models of the
OpenAPI document) or never (pydantic.v1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from backend.database import DB_FILE
from services.foundation.backend_contract import BackendConfig
from tests.backend.conftest import TOKEN, Running, encode_image
from tests.fixtures.processes import python_output

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60.0  # seconds for a fresh python to import and build the backend app

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
    "pil_at_start": loaded("PIL.Image"),
    "v1_at_start": loaded("pydantic.v1"),
}
png = bytes.fromhex(sys.argv[1])
check_image(png, DeclaredImage("image/png", 8, 6), 10_000)
found["pil_after_check"] = loaded("PIL.Image")
print(json.dumps(found))
"""


def test_the_backend_starts_without_pillow_and_pydantic_v1() -> None:
    """Making the backend's app loads neither Pillow (until an image is decoded) nor pydantic.v1."""
    png = encode_image("PNG", size=(8, 6)).hex()
    found = json.loads(python_output(PROBE, png).splitlines()[-1])
    assert found == {"pil_at_start": False, "v1_at_start": False, "pil_after_check": True}


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
