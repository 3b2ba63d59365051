"""The frontend process's one frozen settings object, built from the configuration and flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bus import Endpoints
from services.foundation.config import Config

MAIN_DEADLINE = 30.0  # seconds to wait for main's first get_port answer at start


@dataclass(frozen=True, slots=True)
class FrontendSettings:
    """Where the bus is, which port to try first, where to log, whether a launcher listens."""

    endpoints: Endpoints
    port: int
    log_dir: Path | None = None
    announce: bool = False
    main_deadline: float = MAIN_DEADLINE

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
        )
