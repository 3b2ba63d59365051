"""main's settings: one frozen object, built once at start from the layered configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from services.foundation.config import DEFAULT_START_HOLD, Config
from services.foundation.supervision import RestartPolicy

BACKEND_APP = "backend.app:create_app"


class MainSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything main needs; see ``docs/`` for what each knob does.

    The configured ones come from :meth:`from_config` (their defaults and checks are the
    configuration's); the rest are tuning with defaults of their own.
    """

    runtime_dir: Path
    data_dir: Path
    log_dir: Path
    port: int
    port_pinned: bool  # a configured port: fail instead of falling back to a free port
    standby: bool  # keep a warm standby backend for instant crash recovery
    start_hold: float = DEFAULT_START_HOLD  # requests wait this long for a starting backend
    start_timeout: float = 30.0
    health_interval: float = 2.0
    health_timeout: float = 1.0
    health_misses: int = 3
    stop_timeout: float = 10.0
    backend_graceful_timeout: float = 5.0
    restart: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    backend_app: str = BACKEND_APP
    python: str = sys.executable

    @classmethod
    def from_config(cls, config: Config, backend_app: str | None = None) -> MainSettings:
        """main's keys and the directories of ``config``; a ``main.port`` that was set is pinned."""
        return cls(
            runtime_dir=config.runtime_dir,
            data_dir=config.data_dir,
            log_dir=config.log_dir,
            port=config.main.port,
            port_pinned=config.is_set("main.port"),
            standby=config.main.standby,
            start_hold=config.main.start_hold,
            backend_app=backend_app or BACKEND_APP,
        )
