"""The indexer process: read the text on every stored capture so that it can be searched.

``python -m services.indexer`` runs it; :class:`IndexerService` is the process,
:class:`IndexerSettings` its one settings object. The names are imported on first use: ``python -m``
runs this file first, and its ``__main__`` must import structlog lean
(:mod:`services.foundation.lean`) before anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.foundation.lazy import lazy_names

if TYPE_CHECKING:
    from services.indexer.service import IndexerService
    from services.indexer.settings import IndexerSettings

__all__ = ["IndexerService", "IndexerSettings"]
_HOMES = {
    "IndexerService": "services.indexer.service",
    "IndexerSettings": "services.indexer.settings",
}

__getattr__ = lazy_names(__name__, _HOMES)
