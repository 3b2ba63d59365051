"""The one frozen settings object of the capture process, validated when it is built.

``python -m services.capture`` builds it from the layered configuration (:meth:`from_config`);
tests and the benchmark build it directly. Either way its keys' defaults and ranges are the
``[capture]`` table of :mod:`services.foundation.config`, and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import msgspec

from services.foundation.config import (
    CaptureConfig,
    Config,
    ImageFormat,
    Rules,
    check,
    default_data_dir,
)

IMAGE_FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)
SPOOL_DIR_NAME = "capture-spool"
RULE_FILE_NAME = "capture-exclude.json"
UPLOAD_TIMEOUT = 10.0  # seconds for one upload (not a configuration key)
_KEYS = CaptureConfig()  # the [capture] defaults
_KEY_NAMES = CaptureConfig.__struct_fields__


class CaptureSettings(msgspec.Struct, frozen=True):
    """How often and how the capture process grabs, keeps, encodes, spools and uploads frames.

    ``threshold`` is the fraction of the screen (in cells of about 12x12 pixels) that must change
    for a frame to be kept; 0 keeps every frame that is not pixel-identical to the last one.
    """

    interval: float = _KEYS.interval
    format: ImageFormat = _KEYS.format
    quality: int = _KEYS.quality
    method: int = _KEYS.method
    lossless: bool = _KEYS.lossless
    max_dimension: int | None = _KEYS.max_dimension
    threshold: float = _KEYS.threshold
    spool_max_bytes: int = _KEYS.spool_max_bytes
    spool_max_age: float = _KEYS.spool_max_age
    settle: float = _KEYS.settle
    idle_after: float = _KEYS.idle_after
    default_excludes: bool = _KEYS.default_excludes
    exclude: Rules = _KEYS.exclude
    upload_timeout: float = UPLOAD_TIMEOUT
    display: str | None = None
    data_dir: Path = msgspec.field(default_factory=default_data_dir)
    log_dir: Path | None = None

    def __post_init__(self) -> None:
        check("capture", {name: getattr(self, name) for name in _KEY_NAMES})
        if not self.upload_timeout > 0:
            raise ValueError("upload_timeout must be a positive number of seconds")

    @classmethod
    def from_config(cls, config: Config, display: str | None = None) -> CaptureSettings:
        """The ``[capture]`` table and directories of ``config``; ``display`` None: $DISPLAY."""
        keys = msgspec.structs.asdict(config.capture)
        return cls(**keys, display=display, data_dir=config.data_dir, log_dir=config.log_dir)

    @property
    def rule_file(self) -> Path:
        """Where the privacy rules added at run time are kept."""
        return self.data_dir / RULE_FILE_NAME

    @property
    def spool_dir(self) -> Path:
        """Where frames wait while the backend cannot take them."""
        return self.data_dir / SPOOL_DIR_NAME
