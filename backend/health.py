"""``GET /health``: liveness for main (polled every 2 s) and component state for the UI.

Cheap (one single-row query and a statfs) and bounded: a database that does not answer within
:data:`CHECK_TIMEOUT_S` counts as not ok instead of stalling the probe. No paths, no token.
"""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from fastapi import APIRouter, Request

from backend.catalog import Totals, totals
from backend.errors import ApiError
from backend.runtime import Backend, get_backend
from backend.schemas import Components, DatabaseHealth, Health, RetentionHealth, StorageHealth

CHECK_TIMEOUT_S = 0.5
LOW_DISK_BYTES = 256 * 1024 * 1024
SERVICE: Final = "ctxbus-backend"

router = APIRouter(tags=["health"])


def _package_version() -> str:
    try:
        return version("ctxbus")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = _package_version()


@router.get("/health", response_model=Health)
async def health(request: Request) -> Health:
    """Whether the backend and its parts work. Needs no token."""
    backend = get_backend(request)
    found = await _totals(backend)
    free = await _free_bytes(backend)
    components = Components(
        database=DatabaseHealth(ok=found is not None),
        storage=StorageHealth(
            ok=free >= LOW_DISK_BYTES,
            captures=found.captures if found else 0,
            bytes=found.bytes if found else 0,
            free_bytes=free,
        ),
        retention=_retention(backend),
    )
    healthy = components.database.ok and components.storage.ok and components.retention.ok
    return Health(
        status="ok" if healthy else "degraded",
        service=SERVICE,
        version=VERSION,
        pid=os.getpid(),
        instance=backend.config.instance,
        uptime_s=round(backend.uptime_s, 3),
        components=components,
    )


async def _totals(backend: Backend) -> Totals | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await backend.db.read(totals)
    except (ApiError, TimeoutError):
        return None


async def _free_bytes(backend: Backend) -> int:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await asyncio.to_thread(backend.store.free_bytes)
    except (OSError, TimeoutError):
        return 0


def _retention(backend: Backend) -> RetentionHealth:
    stats = backend.maintenance.stats
    policy = backend.maintenance.policy
    return RetentionHealth(
        ok=stats.last_error is None,
        max_age_days=backend.config.retention_days,
        max_bytes=policy.max_bytes,
        last_run_at=stats.last_run_at,
        last_removed=stats.last_removed,
        removed_total=stats.removed_total,
    )
