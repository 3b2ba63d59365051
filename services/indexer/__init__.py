"""The indexer process: read the text on every stored capture so that it can be searched.

``python -m services.indexer`` runs it; :class:`IndexerService` is the process,
:class:`IndexerSettings` its one settings object.
"""

from __future__ import annotations

from services.indexer.service import IndexerService
from services.indexer.settings import IndexerSettings

__all__ = ["IndexerService", "IndexerSettings"]
