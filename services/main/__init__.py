"""main: the supervisor of the FastAPI backend and the hub of the bus.

The names are imported on first use: ``python -m services.main`` runs this file first, and its
``__main__`` must import structlog lean (:mod:`services.foundation.lean`) before anything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.foundation.lazy import lazy_names

if TYPE_CHECKING:
    from services.main.service import MainService
    from services.main.settings import MainSettings

__all__ = ["MainService", "MainSettings"]
_HOMES = {"MainService": "services.main.service", "MainSettings": "services.main.settings"}

__getattr__ = lazy_names(__name__, _HOMES)
