"""The one frozen settings object of the indexer process.

Its keys' defaults and ranges are the ``[indexer]`` table of :mod:`services.foundation.config`.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from services.foundation.config import Config, IndexerConfig, check

_KEYS = IndexerConfig()
BACKLOG_BATCH = 50  # captures asked of the backlog at a time
BACKLOG_EVERY = 60.0  # seconds between looks at the backlog while nothing else brings work
POWER_EVERY = 30.0  # seconds between looks at the battery
ENGINE_EVERY = 60.0  # seconds between looks for a missing tesseract
REQUEST_TIMEOUT = 30.0  # seconds for one backend request (an image can be large)


class IndexerSettings(msgspec.Struct, frozen=True):
    """What the indexer reads with, and how often it looks for work and power."""

    enabled: bool = _KEYS.enabled
    languages: str = _KEYS.languages
    backlog_batch: int = BACKLOG_BATCH
    backlog_every: float = BACKLOG_EVERY
    power_every: float = POWER_EVERY
    engine_every: float = ENGINE_EVERY
    request_timeout: float = REQUEST_TIMEOUT
    log_dir: Path | None = None

    def __post_init__(self) -> None:
        check("indexer", {"enabled": self.enabled, "languages": self.languages})

    @classmethod
    def from_config(cls, config: Config) -> IndexerSettings:
        """The ``[indexer]`` table of ``config``."""
        keys = config.indexer
        return cls(enabled=keys.enabled, languages=keys.languages, log_dir=config.log_dir)
