"""The check every ctxbus process makes on a directory it keeps files in (data, logs, spool).

Another local user who owns such a directory, or may write to it, can plant files ctxbus would
then write through: ``main.log`` as a symbolic link to a file of theirs, or to one of root's when
ctxbus runs as root (issue 12 §4). So a directory ctxbus writes in must be the user's own, with
no group or other write permission, as the runtime dir must be (:func:`bus.ensure_runtime_dir`),
and ctxbus opens files in it with ``O_NOFOLLOW`` (:data:`NO_FOLLOW`): a link it did not create is
refused, never followed. A directory ctxbus creates itself is made 0700.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bus.errors import SetupError

NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH
PRIVATE_UMASK = 0o077  # every ctxbus process's umask (set with its logging, or before a spawn)


class PrivateDirError(SetupError):
    """A directory ctxbus would keep files in may be written by another user (exit 78)."""


def ensure_private_dir(path: Path, what: str, hint: str) -> Path:
    """Create ``path`` (0700) or check that it is a directory of ours no one else may write.

    ``what`` names it in the message ("the log dir"); ``hint`` says how to choose another one.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise PrivateDirError(f"cannot create {what} {path}: {exc.strerror}; {hint}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PrivateDirError(f"{what} {path} is not a directory; {hint}")
    if info.st_uid != os.getuid():
        raise PrivateDirError(
            f"{what} {path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}), "
            f"so its owner could plant files in it; {hint}"
        )
    if info.st_mode & SHARED_WRITE:
        mode = stat.S_IMODE(info.st_mode)
        raise PrivateDirError(
            f"{what} {path} may be written by other users (mode {mode:o}); "
            f"run `chmod go-w {path}` or {hint}"
        )
    return path


def open_private(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that refuses to follow a symbolic link at ``path`` (``ELOOP``)."""
    return os.open(path, flags | NO_FOLLOW, mode)


def read_private(path: Path) -> bytes:
    """The bytes of the regular file at ``path``, not following a symbolic link."""
    fd = open_private(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as file:
        return file.read()
