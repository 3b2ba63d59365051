"""The sweep of the image store at start (issue 11): finish what a backend left half-done, and put
back into the catalog the images it lacks. An image is never deleted because the catalog lacks it.

First, deletions journaled but not finished (a crash between a row's delete and its files'
removal, see :mod:`backend.catalog`) are finished. Then each file older than the grace period
whose id has no row is judged:

- a write's temp file (``.tmp-*``): removed;
- a thumbnail: removed (a cache, made again on request);
- an image: its row is rebuilt from the file (:mod:`backend.recovery`) and inserted, unless its id
  was journaled as deleted meanwhile or the file went;
- anything else (not an intact image, a name that is no capture id): moved to
  ``<data_dir>/lost+found/``.

Younger files may be another backend's upload whose row is not committed yet: they are counted
in :attr:`SweepResult.deferred` and left for a later sweep.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path
from sqlite3 import Connection

import msgspec

from backend.catalog import (
    Capture,
    forget_deletions,
    ids_with_prefix,
    journaled_deletions,
    restore_capture,
)
from backend.database import Database
from backend.recovery import rebuild_capture
from backend.storage import (
    THUMBNAIL_EXTENSION,
    ImageStore,
    StoredFile,
    remove_files,
    remove_if_done,
)

DELETION_BATCH = 500


class SweepResult(msgspec.Struct):
    """What one sweep did."""

    finished: int = 0  # journaled deletions completed
    removed: int = 0  # temp files and thumbnails without a row
    restored: int = 0  # images put back into the catalog
    moved: int = 0  # files moved to lost+found
    deferred: int = 0  # files without a row too young to judge


class Rebuilt(msgspec.Struct, frozen=True):
    """A row rebuilt from an image file, not yet inserted."""

    capture: Capture
    path: Path


class Sweep:
    """One sweep of a data dir's image store."""

    def __init__(self, db: Database, store: ImageStore, grace_s: float, max_pixels: int) -> None:
        self._db = db
        self._store = store
        self._grace = grace_s
        self._max_pixels = max_pixels

    async def run(self) -> SweepResult:
        """Finish journaled deletions, then judge every shard's files without a row."""
        result = SweepResult(finished=await self._finish_deletions())
        for shard in await asyncio.to_thread(lambda: list(self._store.shards())):
            await self._sweep_shard(shard, result)
        return result

    async def _finish_deletions(self) -> int:
        finished = 0
        while batch := await self._db.read(partial(journaled_deletions, limit=DELETION_BATCH)):
            await asyncio.to_thread(self._remove_captures, batch)
            ids = [capture_id for capture_id, _ in batch]
            await self._db.write(partial(forget_deletions, capture_ids=ids))
            finished += len(batch)
        return finished

    async def _sweep_shard(self, shard: Path, result: SweepResult) -> None:
        files = await asyncio.to_thread(self._store.scan_shard, shard)
        known = await self._db.read(partial(ids_with_prefix, prefix=shard.name))
        unknown = [f for f in files if f.capture_id not in known]
        old = [f for f in unknown if f.age_s > self._grace]
        result.deferred += len(unknown) - len(old)
        in_thumbnails = shard.parent == self._store.thumbnails
        removable = [f.path for f in old if f.is_temp or (in_thumbnails and _is_thumbnail(f))]
        await asyncio.to_thread(remove_files, removable)
        result.removed += len(removable)
        rest = [f.path for f in old if f.path not in removable]
        unusable = rest if in_thumbnails else await self._restore(rest, result)
        await asyncio.to_thread(self._move_aside, unusable)
        result.moved += len(unusable)
        if len(removable) + len(unusable) == len(files):
            await asyncio.to_thread(remove_if_done, shard, time.time(), self._grace)

    async def _restore(self, paths: list[Path], result: SweepResult) -> list[Path]:
        """Rebuild and insert the rows of these image files; returns those that cannot be."""
        rebuilt, unusable = await asyncio.to_thread(self._rebuild, paths)
        if rebuilt:
            restored = await self._db.write(partial(_insert_rebuilt, rebuilt=rebuilt))
            await asyncio.to_thread(self._drop_thumbnails, restored)
            result.restored += len(restored)
        return unusable

    def _rebuild(self, paths: list[Path]) -> tuple[list[Rebuilt], list[Path]]:
        rebuilt: list[Rebuilt] = []
        unusable: list[Path] = []
        for path in paths:
            try:
                capture = rebuild_capture(path, self._max_pixels)
            except FileNotFoundError:
                continue  # deleted meanwhile
            except OSError:
                capture = None  # unreadable
            if capture is None:
                unusable.append(path)
            else:
                rebuilt.append(Rebuilt(capture, path))
        return rebuilt, unusable

    def _remove_captures(self, batch: list[tuple[str, str]]) -> None:
        for capture_id, content_type in batch:
            self._store.remove(capture_id, content_type)

    def _drop_thumbnails(self, restored: list[str]) -> None:
        """A restored row counts no thumbnail bytes: an old cached one is made again."""
        for capture_id in restored:
            self._store.thumbnail_path(capture_id).unlink(missing_ok=True)

    def _move_aside(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                self._store.move_aside(path)
            except FileNotFoundError:
                continue


def _insert_rebuilt(conn: Connection, rebuilt: list[Rebuilt]) -> list[str]:
    """Insert the rebuilt rows whose files are still there; returns their ids. The check runs
    inside the write transaction, so a delete in another process cannot slip in between."""
    return [r.capture.id for r in rebuilt if r.path.exists() and restore_capture(conn, r.capture)]


def _is_thumbnail(stored: StoredFile) -> bool:
    return stored.capture_id is not None and stored.path.suffix == f".{THUMBNAIL_EXTENSION}"
