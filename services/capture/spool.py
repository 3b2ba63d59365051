"""The on-disk spool: kept frames wait here, in order, while the backend cannot take them.

One file per shot, ``<seq>-<frame id>.shot``: a JSON line of :class:`ShotMeta`, then the image
bytes. A file is written under a temporary name, fsynced and renamed, so a crash leaves either a
whole shot or a ``.tmp`` that the next start deletes. The spool dir must be the user's own, with
no group or other write, and no file in it is opened through a symbolic link (``O_NOFOLLOW``).
The spool is bounded by total bytes and by age; past either bound the oldest shots are dropped,
counted and logged (rate-limited, by :class:`~services.capture.drops.DropLog`, reasons
``spool_full`` and ``expired``). A write that fails raises :class:`SpoolError`, whose ``disk_full``
says whether the disk had no room. Methods block: the service calls them through
``asyncio.to_thread``; a lock keeps the index consistent.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import OrderedDict
from pathlib import Path

import msgspec
import structlog

from bus import ServiceError
from services.capture.drops import DropLog
from services.capture.frames import Shot, ShotMeta
from services.foundation.private_dirs import ensure_private_dir, open_private, read_private

log = structlog.get_logger("capture.spool")

SUFFIX = ".shot"
TMP_SUFFIX = ".tmp"
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})  # the disk (or the user's quota) is full
_meta_decoder = msgspec.json.Decoder(ShotMeta)
SPOOL_DIR_HINT = (
    "choose another data dir with data_dir in config.toml, CTXBUS_DATA_DIR or --data-dir"
)


class Entry(msgspec.Struct, frozen=True):
    """One spooled shot on disk."""

    name: str
    size: int
    captured_at: float


class SpoolError(ServiceError):
    """A spool file could not be written; the message names the path and the reason.

    ``disk_full`` is true when the write failed for lack of space (ENOSPC, EDQUOT).
    """

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


class Spool:
    """Bounded FIFO of shots in ``path``; survives restarts of the capture process."""

    def __init__(self, path: Path, max_bytes: int, max_age: float) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.dropped = 0
        self.drop_log = DropLog()
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._next_seq = 1
        self._load()

    # -- state -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def ids(self) -> list[str]:
        """The frame ids waiting, oldest first."""
        with self._lock:
            return [name.split("-", 1)[1].removesuffix(SUFFIX) for name in self._entries]

    # -- operations --------------------------------------------------------------------------------

    def put(self, shot: Shot) -> list[str]:
        """Append ``shot``; returns the ids of shots dropped to stay within the bounds."""
        with self._lock:
            name = f"{self._next_seq:012d}-{shot.id}{SUFFIX}"
            self._next_seq += 1
            size = self._write(name, msgspec.json.encode(shot.meta) + b"\n" + shot.data)
            self._add(Entry(name, size, shot.meta.captured_at))
            return self._enforce()

    def oldest(self) -> Shot | None:
        """The oldest shot still within the bounds, or None when empty; it stays until removed."""
        with self._lock:
            self._enforce()
            for entry in list(self._entries.values()):
                shot = self._read(entry)
                if shot is not None:
                    return shot
                self._discard(entry.name)
            return None

    def remove(self, frame_id: str) -> None:
        """Delete the shot of ``frame_id`` (uploaded); a missing one is fine."""
        with self._lock:
            for name in [n for n in self._entries if n.endswith(f"-{frame_id}{SUFFIX}")]:
                self._discard(name)

    def expire(self) -> list[str]:
        """Drop shots past the age bound; their ids."""
        with self._lock:
            return self._enforce()

    # -- internals ---------------------------------------------------------------------------------

    def _load(self) -> None:
        ensure_private_dir(self.path, "the spool dir", SPOOL_DIR_HINT)
        for child in self.path.iterdir():
            if child.name.endswith(TMP_SUFFIX):
                child.unlink(missing_ok=True)
        names = sorted(p.name for p in self.path.iterdir() if p.name.endswith(SUFFIX))
        for name in names:
            info = (self.path / name).lstat()
            if stat.S_ISREG(info.st_mode):  # a link here was not made by us: not a shot
                self._add(Entry(name, info.st_size, info.st_mtime))
        if names:
            self._next_seq = int(names[-1].split("-", 1)[0]) + 1
            log.info("spool_loaded", frames=len(names), bytes=self._bytes, path=str(self.path))

    def _write(self, name: str, body: bytes) -> int:
        tmp = self.path / f".{name}{TMP_SUFFIX}"
        try:
            fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "wb") as stream:
                stream.write(body)
                stream.flush()
                os.fsync(stream.fileno())
            tmp.rename(self.path / name)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            full = exc.errno in NO_ROOM
            what = "the disk is full: free some space" if full else exc.strerror
            message = f"cannot write to the spool {self.path}: {what}"
            raise SpoolError(message, disk_full=full) from exc
        return len(body)

    def _read(self, entry: Entry) -> Shot | None:
        try:
            raw = read_private(self.path / entry.name)
            head, _, data = raw.partition(b"\n")
            return Shot(meta=_meta_decoder.decode(head), data=data)
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("spool_unreadable", file=entry.name, error=str(exc))
            return None

    def _add(self, entry: Entry) -> None:
        self._entries[entry.name] = entry
        self._bytes += entry.size

    def _discard(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._bytes -= entry.size
            (self.path / name).unlink(missing_ok=True)

    def _enforce(self) -> list[str]:
        dropped: list[str] = []
        expired = 0
        horizon = time.time() - self.max_age
        while self._entries:
            entry = next(iter(self._entries.values()))
            too_old = entry.captured_at < horizon
            if self._bytes <= self.max_bytes and not too_old:
                break
            self._discard(entry.name)
            dropped.append(entry.name.split("-", 1)[1].removesuffix(SUFFIX))
            expired += too_old
        self._log_dropped(len(dropped) - expired, expired)
        return dropped

    def _log_dropped(self, full: int, expired: int) -> None:
        self.dropped += full + expired
        if full:
            detail = f"the spool is over {self.max_bytes} bytes: the oldest frames were dropped"
            self.drop_log("spool_full", full, detail)
        if expired:
            detail = f"frames older than {self.max_age:g} s were dropped from the spool"
            self.drop_log("expired", expired, detail)
