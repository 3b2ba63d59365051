"""The capture process: grab the screen, keep what changed, store it in the backend, lose nothing.

``python -m services.capture`` runs it; :class:`CaptureService` is the process,
:class:`CaptureSettings` its one settings object. The names are imported on first use: ``python -m``
runs this file first, and its ``__main__`` must import structlog lean
(:mod:`services.foundation.lean`) before anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.foundation.lazy import lazy_names

if TYPE_CHECKING:
    from services.capture.service import CaptureService
    from services.capture.settings import CaptureSettings

__all__ = ["CaptureService", "CaptureSettings"]
_HOMES = {
    "CaptureService": "services.capture.service",
    "CaptureSettings": "services.capture.settings",
}

__getattr__ = lazy_names(__name__, _HOMES)
