"""The capture process: grab the screen, keep what changed, store it in the backend, lose nothing.

``python -m services.capture`` runs it; :class:`CaptureService` is the process,
:class:`CaptureSettings` its one settings object. The names are imported on first use: ``python -m``
runs this file first, and its ``__main__`` must import structlog lean
(:mod:`services.foundation.lean`) before anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.capture.service import CaptureService
    from services.capture.settings import CaptureSettings

__all__ = ["CaptureService", "CaptureSettings"]
_HOMES = {
    "CaptureService": "services.capture.service",
    "CaptureSettings": "services.capture.settings",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
