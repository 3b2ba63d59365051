"""``GET /health``: liveness for main (polled every 2 s) and component state for the UI.

Cheap (one single-row query and a statfs) and bounded: a database that does not answer within
:data:`CHECK_TIMEOUT_S` counts as not ok instead of stalling the probe. No paths, no token.

Without ``Authorization: Bearer <token>`` it says only whether the backend is alive and well
(``status``, ``service``, ``version``): how many captures, how many bytes and how much free space
are for the user's programs only. Main's probe sends the token. With it, the answer::

    {"status": "ok" | "degraded",
     "reason": null | "database: <what is wrong>; storage: <...>; retention: <...>",
     "service": "ctxbus-backend", "version", "pid", "instance", "uptime_s",
     "components": {
        "database": {"ok": bool, "error": null | "<what is wrong>"},
        "storage": {"ok", "captures", "bytes", "free_bytes"},
        "retention": {"ok", "max_age_days", "max_bytes", "last_run_at", "last_removed",
                      "removed_total"}}}

``status`` is ``degraded`` when a component is not ok, and ``reason`` then names each such
component and its problem. The database is not ok when it does not answer, or when it is
damaged: found by reading every table at start, ``PRAGMA quick_check`` right after start (off the
event loop), or a query that met damage; ``PRAGMA quick_check`` runs again at most every
:data:`RECHECK_S` seconds while damage is recorded, so a repaired file shows ok again.

The answer is made of :class:`backend.schemas.Health` and :class:`backend.schemas.Liveness`, the
models the OpenAPI document shows, built without validation (``model_construct``: every value
comes from the backend itself) and serialized once (:func:`health_body`), so main's probe every
few seconds costs no validation.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from backend.catalog import Totals, totals
from backend.errors import ApiError
from backend.runtime import Backend
from backend.schemas import (
    Components,
    DatabaseHealth,
    Health,
    Liveness,
    RetentionHealth,
    StorageHealth,
)

CHECK_TIMEOUT_S = 0.5
RECHECK_S = 30.0
LOW_DISK_BYTES = 256 * 1024 * 1024
SERVICE: Final = "ctxbus-backend"


_checks: set[asyncio.Task[str | None]] = set()  # re-checks still running past the timeout


def _package_version() -> str:
    try:
        return version("ctxbus")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = _package_version()


async def health_body(backend: Backend, authorization: bytes) -> bytes:
    """The JSON answer to ``GET /health`` sent with this ``Authorization`` header."""
    answer = await _health(backend)
    if _has_token(authorization, backend):
        return answer.model_dump_json().encode()
    liveness = Liveness.model_construct(status=answer.status, service=SERVICE, version=VERSION)
    return liveness.model_dump_json().encode()


def _has_token(authorization: bytes, backend: Backend) -> bool:
    return hmac.compare_digest(authorization, f"Bearer {backend.config.token}".encode())


async def _health(backend: Backend) -> Health:
    found = await _totals(backend)
    free = await _free_bytes(backend)
    components = Components.model_construct(
        database=await _database(backend, answered=found is not None),
        storage=StorageHealth.model_construct(
            ok=free >= LOW_DISK_BYTES,
            captures=found.captures if found else 0,
            bytes=found.bytes if found else 0,
            free_bytes=free,
        ),
        retention=_retention(backend),
    )
    reason = _reason(components)
    return Health.model_construct(
        status="ok" if reason is None else "degraded",
        reason=reason,
        service=SERVICE,
        version=VERSION,
        pid=os.getpid(),
        instance=backend.config.instance,
        uptime_s=round(backend.uptime_s, 3),
        components=components,
    )


async def _database(backend: Backend, answered: bool) -> DatabaseHealth:
    db = backend.db
    if db.problem is not None and (
        db.checked_at is None or time.monotonic() - db.checked_at > RECHECK_S
    ):
        await _recheck(backend)
    if db.problem is not None:
        return DatabaseHealth.model_construct(ok=False, error=f"damaged: {db.problem}")
    if not answered:
        no_answer = "it did not answer a one-row query in time"
        return DatabaseHealth.model_construct(ok=False, error=no_answer)
    return DatabaseHealth.model_construct(ok=True, error=None)


async def _recheck(backend: Backend) -> None:
    """Run ``PRAGMA quick_check`` again, bounded: a slow check finishes in its thread."""
    check = asyncio.create_task(asyncio.to_thread(backend.db.check_integrity))
    _checks.add(check)
    check.add_done_callback(_checks.discard)
    await asyncio.wait({check}, timeout=CHECK_TIMEOUT_S)


def _reason(components: Components) -> str | None:
    problems: list[str] = []
    if not components.database.ok:
        problems.append(f"database: {components.database.error}")
    if not components.storage.ok:
        free_mb = components.storage.free_bytes / 1024**2
        problems.append(f"storage: {free_mb:.1f} MB free, under {LOW_DISK_BYTES // 1024**2} MB")
    if not components.retention.ok:
        problems.append(f"retention: the last pass failed ({components.retention.error})")
    return "; ".join(problems) or None


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
    return RetentionHealth.model_construct(
        ok=stats.last_error is None,
        error=stats.last_error,
        max_age_days=float(backend.config.retention_days),
        max_bytes=policy.max_bytes,
        last_run_at=stats.last_run_at,
        last_removed=stats.last_removed,
        removed_total=stats.removed_total,
    )
