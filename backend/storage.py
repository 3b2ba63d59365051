"""Image files on disk: ``<data_dir>/images/<shard>/<id>.<ext>`` and cached thumbnails in
``<data_dir>/thumbnails/<shard>/<id>.webp`` (a shard is the id's first characters, see
:mod:`backend.ids`).

Writes are atomic: a temp file in the same directory, fsync, rename, fsync of the directory. The
catalog row is committed only after that, so a crash leaves at worst a file without a row, which
the start-up sweep (:mod:`backend.sweep`) puts back into the catalog once it is older than the
grace period (younger ones may belong to another backend process that has not committed its row
yet). An image carries its upload's metadata in a ``user.ctxbus`` extended attribute where the
file system allows, so that rebuilt row is the one that was lost. Files that cannot be rebuilt
go to ``<data_dir>/lost+found/``; no image is ever deleted because the catalog lacks it. No file
is opened through a symbolic link (``O_NOFOLLOW``): a link planted in the data dir is refused,
never followed. All methods block.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from backend.ids import is_capture_id, shard_end_ms, shard_of
from services.foundation.private_dirs import open_private, read_private

IMAGES_DIR = "images"
THUMBNAILS_DIR = "thumbnails"
LOST_AND_FOUND_DIR = "lost+found"
TEMP_PREFIX = ".tmp-"
THUMBNAIL_EXTENSION = "webp"
EXTENSIONS = {"image/webp": "webp", "image/png": "png", "image/jpeg": "jpg"}
CONTENT_TYPES = {extension: kind for kind, extension in EXTENSIONS.items()}
TAG_ATTRIBUTE = "user.ctxbus"
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StoredFile(msgspec.Struct, frozen=True):
    """A file found in a shard directory."""

    path: Path
    capture_id: str | None  # None for temp files and strangers
    age_s: float

    @property
    def is_temp(self) -> bool:
        """Whether this is a write's temp file (a crashed one, once old)."""
        return self.path.name.startswith(TEMP_PREFIX)


class ImageStore:
    """The image and thumbnail files of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.images = data_dir / IMAGES_DIR
        self.thumbnails = data_dir / THUMBNAILS_DIR
        self.lost_and_found = data_dir / LOST_AND_FOUND_DIR

    def image_path(self, capture_id: str, content_type: str) -> Path:
        """Where the image of a capture lives."""
        return self.images / shard_of(capture_id) / f"{capture_id}.{EXTENSIONS[content_type]}"

    def thumbnail_path(self, capture_id: str) -> Path:
        """Where the cached thumbnail of a capture lives."""
        return self.thumbnails / shard_of(capture_id) / f"{capture_id}.{THUMBNAIL_EXTENSION}"

    def write(self, path: Path, data: bytes, tag: bytes | None = None) -> None:
        """Write ``data`` to ``path`` atomically and durably, tagged with ``tag`` if the file
        system keeps extended attributes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        try:
            fd = open_private(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                if tag is not None:
                    _set_tag(file.fileno(), tag)
                os.fsync(file.fileno())
            temp.rename(path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def read(self, path: Path) -> bytes | None:
        """The file's bytes, or None if it is gone."""
        try:
            return read_private(path)
        except FileNotFoundError:
            return None

    def remove(self, capture_id: str, content_type: str) -> None:
        """Remove a capture's image and thumbnail (either may already be gone)."""
        self.image_path(capture_id, content_type).unlink(missing_ok=True)
        self.thumbnail_path(capture_id).unlink(missing_ok=True)

    def move_aside(self, path: Path) -> Path:
        """Move a file the catalog cannot take to ``lost+found/<images|thumbnails>/<shard>/``."""
        target_dir = self.lost_and_found / path.parent.parent.name / path.parent.name
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / path.name
        copies = 0
        while target.exists():
            copies += 1
            target = target_dir / f"{path.name}.{copies}"
        shutil.move(path, target)
        return target

    def free_bytes(self) -> int:
        """Free space on the data dir's file system."""
        self.images.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.images).free

    def shards(self) -> Iterator[Path]:
        """Every shard directory, images and thumbnails alike."""
        for root in (self.images, self.thumbnails):
            if root.is_dir():
                yield from (entry for entry in root.iterdir() if entry.is_dir())

    def scan_shard(self, shard: Path, now: float | None = None) -> list[StoredFile]:
        """The files in one shard directory, with their ages."""
        clock = time.time() if now is None else now
        found: list[StoredFile] = []
        for entry in shard.iterdir():
            try:
                age = clock - entry.stat().st_mtime
            except FileNotFoundError:
                continue
            stem = entry.name.split(".", 1)[0]
            found.append(StoredFile(entry, stem if is_capture_id(stem) else None, age))
        return found


def remove_if_done(shard: Path, now: float, grace_s: float) -> bool:
    """Remove an empty shard directory whose time range ended over ``grace_s`` ago."""
    end_ms = shard_end_ms(shard.name)
    if end_ms is None or end_ms / 1000 + grace_s > now:
        return False
    try:
        shard.rmdir()
    except OSError:  # not empty: files are still being kept in it
        return False
    return True


def read_tag(path: Path) -> bytes | None:
    """The tag :meth:`ImageStore.write` left on a file, or None."""
    try:
        return os.getxattr(path, TAG_ATTRIBUTE)
    except OSError:  # no tag, or extended attributes not supported here
        return None


def is_disk_full(exc: OSError) -> bool:
    """Whether an error means the disk (or the user's quota) is full."""
    return exc.errno in FULL_ERRNOS


def _set_tag(fd: int, tag: bytes) -> None:
    try:
        os.setxattr(fd, TAG_ATTRIBUTE, tag)
    except OSError as exc:
        if is_disk_full(exc):
            raise
        # no extended attributes on this file system: the file alone still counts


def remove_files(paths: list[Path]) -> None:
    """Unlink each path (already-gone ones are fine)."""
    for path in paths:
        path.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
