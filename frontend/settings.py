"""The frontend process's one frozen settings object, built from the configuration and flags."""

from __future__ import annotations

from pathlib import Path

import msgspec

from bus import Endpoints
from frontend.gate import SessionLimits
from services.foundation.backend_contract import BackendConfig
from services.foundation.config import Config

MAIN_DEADLINE = 30.0  # seconds to wait for main's first get_port answer at start


def _backend_upload_limit() -> int:
    """The backend's own default body limit (``BackendConfig.max_upload_bytes``)."""
    default = next(
        f.default for f in msgspec.structs.fields(BackendConfig) if f.name == "max_upload_bytes"
    )
    assert isinstance(default, int)
    return default


MAX_BODY = _backend_upload_limit()  # bytes: the proxy refuses larger bodies with 413


class FrontendSettings(msgspec.Struct, frozen=True):
    """Where the bus is, which port to try first, where to log, whether a launcher listens, how
    long sessions last, the largest request body the proxy passes on (the backend's own limit)."""

    endpoints: Endpoints
    port: int
    log_dir: Path | None = None
    announce: bool = False
    main_deadline: float = MAIN_DEADLINE
    sessions: SessionLimits = msgspec.field(default_factory=SessionLimits)
    max_body: int = MAX_BODY

    @classmethod
    def from_config(
        cls, config: Config, endpoints: Endpoints, *, announce: bool = False
    ) -> FrontendSettings:
        """The ``[frontend]`` table and log dir of ``config``, on the bus at ``endpoints``."""
        return cls(
            endpoints=endpoints,
            port=config.frontend.port,
            log_dir=config.log_dir,
            announce=announce,
            sessions=SessionLimits(config.frontend.session_idle, config.frontend.session_max),
        )
