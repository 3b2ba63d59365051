"""main: the supervisor of the FastAPI backend and the hub of the bus.

The names are imported on first use: ``python -m services.main`` runs this file first, and its
``__main__`` must import structlog lean (:mod:`services.foundation.lean`) before anything else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.main.service import MainService
    from services.main.settings import MainSettings

__all__ = ["MainService", "MainSettings"]
_HOMES = {"MainService": "services.main.service", "MainSettings": "services.main.settings"}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
