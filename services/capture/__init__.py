"""The capture process: grab the screen, keep what changed, store it in the backend, lose nothing.

``python -m services.capture`` runs it; :class:`CaptureService` is the process,
:class:`CaptureSettings` its one settings object.
"""

from __future__ import annotations

from services.capture.service import CaptureService
from services.capture.settings import CaptureSettings

__all__ = ["CaptureService", "CaptureSettings"]
