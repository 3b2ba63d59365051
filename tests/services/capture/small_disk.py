"""A real small disk: a tmpfs (2 MiB unless told) mounted for one test, filled up and freed again.

Mounting needs root (or CAP_SYS_ADMIN); without it the test is skipped and says why.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SIZE = "2m"
FILLER = ".filler"
CHUNK = 64 * 1024


class SmallDisk:
    """The mounted tmpfs at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fill(self) -> None:
        """Write a filler file until the disk says ENOSPC: not one more byte fits."""
        with (self.path / FILLER).open("ab", buffering=0) as stream:
            for size in (CHUNK, 4096, 1):
                try:
                    while True:
                        stream.write(b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        """Delete the filler: the disk has room again."""
        (self.path / FILLER).unlink()


@contextmanager
def small_disk(path: Path, size: str = SIZE) -> Iterator[SmallDisk]:
    """A tmpfs of ``size`` (as mount takes it: ``2m``) mounted at ``path``, unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    # mode 0700: ctxbus refuses a dir others may write, and a tmpfs root is 1777 by default
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)]
    try:
        done = subprocess.run(mount, capture_output=True, text=True, check=False)
    except OSError as exc:
        pytest.skip(f"cannot run mount for a small tmpfs: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", str(path)], check=True)
