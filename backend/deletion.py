"""Deleting captures: the rows (each delete journals its id, see :mod:`backend.catalog`), then
their files, then the journal entries. A crash in between leaves journaled files, which the next
start's sweep removes. On a full disk the deletes use the disk reserve (:mod:`backend.reserve`),
so the user can always free space.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from sqlite3 import Connection

import msgspec

from backend.catalog import Capture, forget_deletions
from backend.database import Database
from backend.reserve import DiskReserve, write_freeing
from backend.storage import ImageStore


class Deleter(msgspec.Struct, frozen=True):
    """Where deletions go: the catalog, the files, and the reserve for a full disk."""

    db: Database
    store: ImageStore
    reserve: DiskReserve

    async def delete(self, query: Callable[[Connection], list[Capture]]) -> list[Capture]:
        """Delete the rows ``query`` deletes, then their files, then their journal entries."""
        deleted = await write_freeing(self.db, self.reserve, query)
        if deleted:
            await asyncio.to_thread(self._remove_files, deleted)
            ids = [capture.id for capture in deleted]
            await write_freeing(self.db, self.reserve, partial(forget_deletions, capture_ids=ids))
        return deleted

    def _remove_files(self, captures: list[Capture]) -> None:
        for capture in captures:
            self.store.remove(capture.id, capture.content_type)
