"""What main hands a backend process it spawns: one frozen config, carried in the environment.

The spawn protocol (main side: ``services/main``; backend side: ``backend/__main__.py``), each
value in a ``CTXBUS_BACKEND_*`` variable:

- ``LISTEN_FD``: the listening socket main bound on 127.0.0.1; the backend serves on it and never
  binds one of its own, so the port never changes and connections wait in its backlog.
- ``READY_FD``: a pipe's write end. Once the app is started, warmed and accepting on the shared
  socket, the backend writes ``ready\\n`` (active role) or ``standby\\n`` (standby role, which
  serves too); a standby writes ``ready\\n`` when promoted. It answers each ``ping\\n`` with
  ``pong\\n`` from its event loop, so a hung backend is told from a busy socket.
- ``CONTROL_FD``: a pipe's read end: ``serve\\n`` promotes a standby, ``ping\\n`` asks for a
  ``pong\\n``; end-of-file at any time means main is gone, and the backend exits at once.
- ``PARENT_PID``: main's pid; on Linux the backend also asks for SIGKILL when main dies.
- ``ROLE``: ``active`` or ``standby``: both serve; main promotes a standby when it needs one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

ENV_PREFIX = "CTXBUS_BACKEND_"
Role = Literal["active", "standby"]

READY_LINE = b"ready\n"
STANDBY_LINE = b"standby\n"
SERVE_LINE = b"serve\n"
PING_LINE = b"ping\n"
PONG_LINE = b"pong\n"
DEFAULT_APP = "backend.app:create_app"
HEALTH_PATH = "/health"  # main's liveness probe; answered without a token


class BackendConfig(msgspec.Struct, frozen=True):
    """Everything a backend process needs; built by main, rebuilt by the backend from its env."""

    port: int
    token: str
    instance: str
    data_dir: Path
    log_dir: Path
    listen_fd: int = -1
    ready_fd: int = -1
    control_fd: int = -1
    parent_pid: int = 0
    role: Role = "active"
    app: str = DEFAULT_APP
    graceful_timeout: float = 5.0
    # Storage limits (issue 5); defaults suit a desktop, tests shrink them.
    max_upload_bytes: int = 20 * 1024 * 1024  # larger bodies get 413
    # Refused before decoding (decompression bombs). Capture uploads one image per monitor, and
    # the largest monitors made are 8K UHD, 7680x4320 (33.2 M pixels): every real screen fits,
    # and a decode costs at most ~133 MB (RGBA), one per core at a time (backend.image_work).
    max_image_pixels: int = 7680 * 4320
    retention_days: float = 15.0  # captures older than this are removed
    retention_bytes: int = 10 * 1024**3  # then the oldest go until images fit in this
    retention_interval: float = 300.0  # seconds between retention passes
    orphan_grace: float = 60.0  # files without a row younger than this may be another process's
    disk_reserve_bytes: int = 4 * 1024 * 1024  # kept allocated so deletes work on a full disk

    def to_env(self) -> dict[str, str]:
        """The environment variables that carry this config."""
        return {_env_name(f.name): str(getattr(self, f.name)) for f in msgspec.structs.fields(self)}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> BackendConfig:
        """Rebuild the config from ``CTXBUS_BACKEND_*`` variables (``os.environ`` by default)."""
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in msgspec.structs.fields(cls):
            raw = source.get(_env_name(f.name))
            if raw is None:
                continue
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            if kind in ("int",):
                values[f.name] = int(raw)
            elif kind == "float":
                values[f.name] = float(raw)
            elif kind == "Path":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        role = values.get("role", "active")
        if role not in ("active", "standby"):
            raise ValueError(f"{_env_name('role')} must be 'active' or 'standby', not {role!r}")
        return cls(**values)  # type: ignore[arg-type]  # each value was converted to its field type above


def _env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


PARENT_PID_ENV = _env_name("parent_pid")
