"""The backend's one background task: check the database and sweep the image store at start (see
:mod:`backend.sweep`), then enforce retention every ``retention_interval`` seconds and whenever an
upload pushes storage over budget (:meth:`Maintenance.wake`).

A failing pass is logged and shown in ``/health``; the loop itself never dies of it. A damaged
database is not swept: the sweep trusts the catalog to say what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
import structlog

from backend.deletion import Deleter
from backend.errors import ApiError
from backend.retention import RetentionPolicy, enforce_retention
from backend.sweep import Sweep, SweepResult
from services.foundation.backend_contract import BackendConfig

log = structlog.get_logger(__name__)


class RetentionStats(msgspec.Struct):
    """What retention has done in this process, for ``/health``."""

    last_run_at: float | None = None
    last_removed: int = 0
    removed_total: int = 0
    last_error: str | None = None


class Maintenance:
    """Database check, store sweep and periodic retention for one data dir."""

    def __init__(self, config: BackendConfig, deleter: Deleter) -> None:
        self.policy = RetentionPolicy.from_config(config)
        self.stats = RetentionStats()
        self.swept = asyncio.Event()
        self.passes = 0
        self._interval = config.retention_interval
        self._grace = config.orphan_grace
        self._sweep = Sweep(deleter.db, deleter.store, config.orphan_grace, config.max_image_pixels)
        self._deleter = deleter
        self._db = deleter.db
        self._store = deleter.store
        self._wake = asyncio.Event()
        self._passed = asyncio.Condition()

    async def run(self) -> None:
        """Check and sweep once, then run retention passes until cancelled; sweep again after
        the grace period while files too young to judge were left."""
        await asyncio.to_thread(self._db.check_integrity)
        deferred = await self.sweep_orphans()
        async with asyncio.TaskGroup() as group:
            if deferred:
                group.create_task(self._sweep_later())
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
            result = await enforce_retention(self._deleter, self.policy, time.time())
            await asyncio.to_thread(self._deleter.reserve.ensure)
        except (ApiError, OSError) as exc:
            log.warning("retention_failed", error=str(exc))
            self.stats.last_error = str(exc)
            removed = 0
        else:
            removed = result.removed
            self.stats.last_error = None
            if removed:
                log.info("retention_removed", by_age=result.by_age, by_size=result.by_size)
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
        """Sweep the image store once; returns how many files were too young to judge."""
        try:
            if self._db.problem is not None:
                log.warning("sweep_skipped", reason="the database is damaged")
                return 0
            result = await self._sweep.run()
        except (ApiError, OSError) as exc:
            log.warning("sweep_failed", error=str(exc))
            return 0
        finally:
            self.swept.set()
        self._report(result)
        return result.deferred

    async def _sweep_later(self) -> None:
        deferred = 1
        while deferred:
            await asyncio.sleep(self._grace)  # a scheduled wait: young files come of age
            deferred = await self.sweep_orphans()

    def _report(self, result: SweepResult) -> None:
        if result.finished:
            log.info("deletions_finished", captures=result.finished)
        if result.removed:
            log.info("orphans_removed", files=result.removed)
        if result.restored:
            log.warning(
                "orphans_restored",
                count=result.restored,
                hint="the catalog lacked these images; their rows were rebuilt from the files",
            )
        if result.moved:
            log.warning(
                "orphans_moved",
                count=result.moved,
                folder=str(self._store.lost_and_found),
                hint="files in the image store that are no intact capture were moved aside",
            )
