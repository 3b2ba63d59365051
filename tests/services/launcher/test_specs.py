"""What the launcher starts: the frontend gets a fresh session secret for each run, and only it."""

from __future__ import annotations

from pathlib import Path

from bus import endpoints as names
from services.foundation.config import load_config
from services.foundation.dashboard import SECRET_BYTES, SECRET_ENV
from services.launcher.specs import component_settings


def secrets_by_component(runtime_dir: Path) -> dict[str, str | None]:
    config = load_config(None, env={"CTXBUS_RUNTIME_DIR": str(runtime_dir)})
    return {s.spec.name: s.spec.env.get(SECRET_ENV) for s in component_settings(config)}


def test_each_run_mints_a_new_frontend_secret(runtime_dir: Path) -> None:
    """Two launcher runs hand their frontends two different 32-byte secrets; no other child
    gets one."""
    first = secrets_by_component(runtime_dir)
    second = secrets_by_component(runtime_dir)
    secret = first.pop(names.COMPONENT_FRONTEND)
    assert secret is not None
    assert len(bytes.fromhex(secret)) == SECRET_BYTES
    assert second.pop(names.COMPONENT_FRONTEND) not in {None, secret}
    assert set(first.values()) == set(second.values()) == {None}
