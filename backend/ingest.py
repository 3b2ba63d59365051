"""Storing an upload exactly once: validate, write the file atomically, then commit the row.

The idempotency key is the catalog's UNIQUE column, so two uploads with one key (in this process
or another) store one row; the loser removes its own file and answers with the winner's record.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from functools import partial
from pathlib import Path

import msgspec
import structlog

from backend.catalog import Capture, find_by_key, insert_capture
from backend.database import DatabaseUnavailable
from backend.errors import Conflict, InsufficientStorage, ServiceUnavailable, disk_full
from backend.ids import new_capture_id
from backend.images import DeclaredImage, check_image, check_pixels
from backend.recovery import upload_tag
from backend.runtime import Backend
from backend.storage import is_disk_full

log = structlog.get_logger(__name__)


class OnScreen(msgspec.Struct, frozen=True):
    """The active window when the capture was grabbed, as the capture process read it."""

    app: str | None = None
    title: str | None = None
    pid: int | None = None
    process: str | None = None


class Upload(msgspec.Struct, frozen=True):
    """One ``POST /api/captures``, its body already read."""

    key: str
    captured_at: float
    monitor: int
    image: DeclaredImage
    body: bytes
    window: OnScreen = OnScreen()


async def ingest(backend: Backend, upload: Upload) -> tuple[Capture, bool]:
    """Store ``upload`` unless its key is known; returns the record and whether it is new."""
    existing = await backend.db.read(partial(find_by_key, key=upload.key))
    if existing is not None:
        await _check_replay(existing, upload)
        return existing, False
    check_pixels(upload.image.width, upload.image.height, backend.config.max_image_pixels)
    digest = await backend.images.run(
        check_image, upload.body, upload.image, backend.config.max_image_pixels
    )
    capture = _new_capture(upload, digest)
    path = backend.store.image_path(capture.id, capture.content_type)
    await _write_file(backend, upload, path)
    try:
        inserted = await backend.db.write(partial(insert_capture, capture=capture))
    except (DatabaseUnavailable, InsufficientStorage):
        path.unlink(missing_ok=True)  # the row was not committed; nothing refers to the file
        raise
    if not inserted.created:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        _check_same(inserted.capture, digest)
        return inserted.capture, False
    if inserted.totals.bytes > backend.maintenance.policy.max_bytes:
        backend.maintenance.wake()
    log.debug("capture_stored", id=capture.id, bytes=capture.bytes)
    return capture, True


async def _write_file(backend: Backend, upload: Upload, path: Path) -> None:
    """Write the image, tagged with its upload's metadata; 507 when the disk is full."""
    if not await asyncio.to_thread(backend.reserve.has_room, len(upload.body)):
        raise disk_full(await asyncio.to_thread(backend.reserve.free_bytes), "storing the image")
    tag = upload_tag(upload.key, upload.captured_at, upload.monitor)
    try:
        await asyncio.to_thread(backend.store.write, path, upload.body, tag)
    except OSError as exc:
        log.warning("capture_write_failed", error=str(exc))
        if is_disk_full(exc):
            free = await asyncio.to_thread(backend.reserve.free_bytes)
            raise disk_full(free, "storing the image") from exc
        raise ServiceUnavailable(
            "storage_failed",
            f"the backend could not write the image ({exc.strerror or exc}); check that the "
            "data dir is writable, then retry",
        ) from exc


def _new_capture(upload: Upload, digest: str) -> Capture:
    return Capture(
        id=new_capture_id(),
        idempotency_key=upload.key,
        captured_at=upload.captured_at,
        monitor=upload.monitor,
        width=upload.image.width,
        height=upload.image.height,
        content_type=upload.image.content_type,
        bytes=len(upload.body),
        sha256=digest,
        created_at=time.time(),
        app=upload.window.app,
        title=upload.window.title,
        pid=upload.window.pid,
        process=upload.window.process,
    )


async def _check_replay(existing: Capture, upload: Upload) -> None:
    digest = await asyncio.to_thread(lambda: hashlib.sha256(upload.body).hexdigest())
    _check_same(existing, digest)


def _check_same(existing: Capture, digest: str) -> None:
    if existing.sha256 != digest:
        raise Conflict(
            "idempotency_key_reused",
            f"Idempotency-Key {existing.idempotency_key!r} already stored a different image "
            f"(capture {existing.id}); use a new key for a new image",
        )
