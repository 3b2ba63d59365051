"""The indexer process: read the text on every stored capture so that it can be searched.

``python -m services.indexer`` runs it; :class:`IndexerService` is the process,
:class:`IndexerSettings` its one settings object. The names are imported on first use: ``python -m``
runs this file first, and its ``__main__`` must import structlog lean
(:mod:`services.foundation.lean`) before anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.indexer.service import IndexerService
    from services.indexer.settings import IndexerSettings

__all__ = ["IndexerService", "IndexerSettings"]
_HOMES = {
    "IndexerService": "services.indexer.service",
    "IndexerSettings": "services.indexer.settings",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
