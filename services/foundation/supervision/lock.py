"""One supervisor per runtime dir: an exclusive ``flock`` held for the process's life."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bus import SetupError


class InstanceLock:
    """Hold ``path`` exclusively; the kernel releases it when the process dies, however it dies."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`SetupError` naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SetupError(
                f"another {self.what} (pid {holder}) is already running on "
                f"{self.path.parent}; stop it with `ctxbus down`, or give this one another "
                "runtime dir (CTXBUS_RUNTIME_DIR)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    @classmethod
    def inherited(cls, path: Path, what: str, fd: int) -> InstanceLock:
        """The lock as held on ``fd``, which this process's image inherited across its exec."""
        lock = cls(path, what)
        lock._fd = fd
        return lock

    @property
    def fileno(self) -> int | None:
        """The descriptor that holds it (None if not held)."""
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> InstanceLock:
        """Hold it for the block: taken now, unless it was already (before the event loop)."""
        if not self.held:
            self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
