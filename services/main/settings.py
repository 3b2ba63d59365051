"""main's settings: one frozen object, built once at start (defaults, then config layers)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from bus import endpoints
from services.foundation.supervision import RestartPolicy

DEFAULT_BACKEND_PORT = 1733
LOCAL_HOST = "127.0.0.1"
BACKEND_APP = "backend.app:create_app"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(endpoints.APP_NAME))


def default_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(endpoints.APP_NAME))


@dataclass(frozen=True, slots=True)
class MainSettings:
    """Everything main needs; see ``docs/`` for what each knob does."""

    runtime_dir: Path = field(default_factory=endpoints.default_runtime_dir)
    data_dir: Path = field(default_factory=default_data_dir)
    log_dir: Path = field(default_factory=default_log_dir)
    port: int = DEFAULT_BACKEND_PORT
    port_pinned: bool = False  # --port N: fail instead of falling back to a free port
    standby: bool = True  # keep a warm standby backend for instant crash recovery
    start_timeout: float = 30.0
    health_interval: float = 2.0
    health_timeout: float = 1.0
    health_misses: int = 3
    stop_timeout: float = 10.0
    backend_graceful_timeout: float = 5.0
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    backend_app: str = BACKEND_APP
    python: str = sys.executable
