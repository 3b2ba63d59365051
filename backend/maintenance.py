"""The backend's one background task: sweep orphan files at start, then enforce retention every
``retention_interval`` seconds and whenever an upload pushes storage over budget (:meth:`wake`).

A failing pass is logged and shown in ``/health``; the loop itself never dies of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import structlog

from backend.catalog import ids_with_prefix
from backend.database import Database
from backend.errors import ApiError
from backend.retention import RetentionPolicy, enforce_retention
from backend.storage import ImageStore, orphans, remove_files, remove_if_done
from services.foundation.backend_contract import BackendConfig

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class RetentionStats:
    """What retention has done in this process, for ``/health``."""

    last_run_at: float | None = None
    last_removed: int = 0
    removed_total: int = 0
    last_error: str | None = None


class Maintenance:
    """Orphan sweep and periodic retention for one data dir."""

    def __init__(self, config: BackendConfig, db: Database, store: ImageStore) -> None:
        self.policy = RetentionPolicy.from_config(config)
        self.stats = RetentionStats()
        self.swept = asyncio.Event()
        self.passes = 0
        self._interval = config.retention_interval
        self._grace = config.orphan_grace
        self._db = db
        self._store = store
        self._wake = asyncio.Event()
        self._passed = asyncio.Condition()

    async def run(self) -> None:
        """Sweep once, then run retention passes until cancelled."""
        await self.sweep_orphans()
        while True:
            await self.run_pass()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()

    def wake(self) -> None:
        """Ask for a retention pass now (after an upload that went over budget)."""
        self._wake.set()

    async def run_pass(self) -> int:
        """Enforce retention once; returns how many captures went."""
        try:
            result = await enforce_retention(self._db, self._store, self.policy, time.time())
        except (ApiError, OSError) as exc:
            log.warning("retention.failed", error=str(exc))
            self.stats.last_error = str(exc)
            removed = 0
        else:
            removed = result.removed
            self.stats.last_error = None
            if removed:
                log.info("retention.removed", by_age=result.by_age, by_size=result.by_size)
        self.stats.last_run_at = time.time()
        self.stats.last_removed = removed
        self.stats.removed_total += removed
        async with self._passed:
            self.passes += 1
            self._passed.notify_all()
        return removed

    async def wait_for_pass(self, after: int) -> None:
        """Return once more than ``after`` passes have completed."""
        async with self._passed:
            await self._passed.wait_for(lambda: self.passes > after)

    async def sweep_orphans(self) -> int:
        """Remove files without a catalog row that are older than the grace period."""
        removed = 0
        try:
            for shard in await asyncio.to_thread(lambda: list(self._store.shards())):
                removed += await self._sweep_shard(shard)
        except (ApiError, OSError) as exc:
            log.warning("orphans.sweep_failed", error=str(exc))
        finally:
            self.swept.set()
        if removed:
            log.info("orphans.removed", files=removed)
        return removed

    async def _sweep_shard(self, shard: Path) -> int:
        files = await asyncio.to_thread(self._store.scan_shard, shard)
        stale: list[Path] = []
        if any(f.age_s > self._grace for f in files):
            known = await self._db.read(partial(ids_with_prefix, prefix=shard.name))
            stale = orphans(files, known, self._grace)
            await asyncio.to_thread(remove_files, stale)
        if len(stale) == len(files):
            await asyncio.to_thread(remove_if_done, shard, time.time(), self._grace)
        return len(stale)
