"""A reserve of disk space in the data dir, so captures can be deleted on a full disk (issue 11).

SQLite needs a little space to delete a row (its write-ahead log takes the changed pages). The
backend keeps ``disk_reserve_bytes`` allocated in ``<data_dir>/ctxbus.reserve``; a delete that
meets a full disk releases it and tries once more (:func:`write_freeing`). It is allocated again
once the disk has twice that free (checked at start, before uploads, after deletes and on each
retention pass), and while it is released uploads leave that much free. Several backend
processes may share it: each step is a single rename or unlink. Methods block.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import TypeVar

import structlog

from backend.database import Database, Query
from backend.errors import InsufficientStorage

log = structlog.get_logger(__name__)

RESERVE_FILE = "ctxbus.reserve"

T = TypeVar("T")


class DiskReserve:
    """The data dir's reserved disk space."""

    def __init__(self, data_dir: Path, size: int) -> None:
        self.path = data_dir / RESERVE_FILE
        self.size = size

    def ensure(self) -> bool:
        """Allocate the reserve if it is missing and the disk has room to spare; whether held."""
        if self.size <= 0:
            return False
        if self.path.exists():
            return True
        if self.free_bytes() < 2 * self.size:
            return False
        temp = self.path.with_name(f"{RESERVE_FILE}.tmp-{os.getpid()}")
        try:
            _allocate(temp, self.size)
            temp.replace(self.path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            log.warning("disk_reserve_not_allocated", error=str(exc))
            return False
        log.info("disk_reserve_allocated", bytes=self.size)
        return True

    def has_room(self, nbytes: int) -> bool:
        """Whether writing ``nbytes`` leaves the reserve (held, or free space to allocate it)."""
        try:
            return self.ensure() or self.free_bytes() - nbytes >= self.size
        except OSError:
            return True  # the write that follows reports what is wrong

    def release(self) -> bool:
        """Free the reserve for a write that must succeed; whether there was one to free."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning("disk_reserve_released", bytes=self.size, hint="the data dir's disk is full")
        return True

    def free_bytes(self) -> int:
        """Free space on the data dir's file system."""
        return shutil.disk_usage(self.path.parent).free


async def write_freeing(db: Database, reserve: DiskReserve, query: Query[T]) -> T:
    """``db.write(query)``; on a full disk, release the reserve and try once more."""
    try:
        return await db.write(query)
    except InsufficientStorage:
        if not await asyncio.to_thread(reserve.release):
            raise
    return await db.write(query)


def _allocate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)
