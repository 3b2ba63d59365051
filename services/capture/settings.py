"""The one frozen settings object of the capture process, validated when it is built.

``python -m services.capture`` builds it from the layered configuration
(``services.foundation.config``) and its own flags; tests and the benchmark build it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

from bus import endpoints

ImageFormat = Literal["webp", "png", "jpeg"]
IMAGE_FORMATS: tuple[ImageFormat, ...] = ("webp", "png", "jpeg")
MIN_INTERVAL = 0.2
MAX_INTERVAL = 3600.0
SPOOL_DIR_NAME = "capture-spool"
MiB = 1024 * 1024
DAY = 24 * 3600.0


def default_data_dir() -> Path:
    """The platform's user data dir for ctxbus."""
    return Path(platformdirs.user_data_dir(endpoints.APP_NAME))


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """How often and how the capture process grabs, keeps, encodes, spools and uploads frames.

    ``threshold`` is the fraction of the screen (in cells of about 12x12 pixels) that must change
    for a frame to be kept; 0 keeps every frame that is not pixel-identical to the last one.
    """

    interval: float = 5.0
    format: ImageFormat = "webp"
    quality: int = 80
    method: int = 0
    lossless: bool = False
    max_dimension: int | None = None
    threshold: float = 0.001
    spool_max_bytes: int = 512 * MiB
    spool_max_age: float = 7 * DAY
    upload_timeout: float = 10.0
    display: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    log_dir: Path | None = None

    def __post_init__(self) -> None:
        for problem in self.problems():
            raise ValueError(problem)

    def problems(self) -> list[str]:
        """What is wrong with these settings, one message per bad key (empty when usable)."""
        checks = [
            (
                MIN_INTERVAL <= self.interval <= MAX_INTERVAL,
                "capture.interval must be from 0.2 s to 3600 s",
            ),
            (
                self.format in IMAGE_FORMATS,
                f"capture.format must be one of {', '.join(IMAGE_FORMATS)}",
            ),
            (1 <= self.quality <= 100, "capture.quality must be from 1 to 100"),
            (0 <= self.method <= 6, "capture.method (WebP effort) must be from 0 to 6"),
            (
                self.max_dimension is None or self.max_dimension >= 64,
                "capture.max_dimension must be at least 64 pixels",
            ),
            (0.0 <= self.threshold <= 1.0, "capture.threshold must be a fraction from 0 to 1"),
            (self.spool_max_bytes >= MiB, "capture.spool_max_bytes must be at least 1 MiB"),
            (self.spool_max_age > 0, "capture.spool_max_age must be a positive number of seconds"),
            (
                self.upload_timeout > 0,
                "capture.upload_timeout must be a positive number of seconds",
            ),
        ]
        return [message for ok, message in checks if not ok]

    @property
    def spool_dir(self) -> Path:
        """Where frames wait while the backend cannot take them."""
        return self.data_dir / SPOOL_DIR_NAME
