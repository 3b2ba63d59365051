"""What a running backend app holds: its config, database, image store, disk reserve and
maintenance task.

:func:`open_backend` is the app's lifespan body; :func:`get_backend` is how routes reach it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, cast

import msgspec
import structlog

from backend.database import Database
from backend.deletion import Deleter
from backend.image_work import ImageWork
from backend.maintenance import Maintenance
from backend.reserve import DiskReserve
from backend.storage import ImageStore
from services.foundation.backend_contract import BackendConfig

if TYPE_CHECKING:
    from starlette.requests import Request

log = structlog.get_logger(__name__)


class Backend(msgspec.Struct, frozen=True):
    """The live parts of one backend process."""

    config: BackendConfig
    db: Database
    store: ImageStore
    maintenance: Maintenance
    started_at: float  # time.monotonic() at startup
    deleter: Deleter
    images: ImageWork  # the gate every image decode goes through

    @property
    def reserve(self) -> DiskReserve:
        """The disk space kept so deletes work on a full disk."""
        return self.deleter.reserve

    @property
    def uptime_s(self) -> float:
        """Seconds since the app started."""
        return time.monotonic() - self.started_at


@asynccontextmanager
async def open_backend(config: BackendConfig) -> AsyncIterator[Backend]:
    """Open the database (migrating it), hold the disk reserve, start maintenance; undo on exit."""
    db = await asyncio.to_thread(Database.open, config.data_dir)
    store = ImageStore(config.data_dir)
    deleter = Deleter(db, store, DiskReserve(config.data_dir, config.disk_reserve_bytes))
    await asyncio.to_thread(deleter.reserve.ensure)
    maintenance = Maintenance(config, deleter)
    task = asyncio.create_task(maintenance.run(), name="backend-maintenance")
    log.info("backend_started", instance=config.instance)
    try:
        yield Backend(config, db, store, maintenance, time.monotonic(), deleter, ImageWork())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(db.close)
        log.info("backend_stopped")


def get_backend(request: Request) -> Backend:
    """The backend the app's lifespan opened."""
    backend = getattr(request.app.state, "backend", None)
    if backend is None:
        raise RuntimeError("the backend app was served without its lifespan (lifespan='on')")
    return cast(Backend, backend)
