"""The user's runtime dir (XDG Base Directory), under which the bus's sockets live by default.

The same directory platformdirs' ``user_runtime_dir`` gives on Linux, without importing
platformdirs (1.6 MB in every process: it imports tempfile, shutil, bz2, lzma and random):

1. ``$XDG_RUNTIME_DIR`` when it is an absolute path (the spec ignores a relative one) to a
   directory of this user with mode 0700, or to none yet;
2. else ``/run/user/<uid>`` when it is such a directory;
3. else ``runtime-<uid>`` in the temporary directory (the first writable one of ``$TMPDIR``,
   ``$TEMP``, ``$TMP``, ``/tmp``, ``/var/tmp``, ``/usr/tmp``), refused when someone else could
   change it.

A candidate counts only below directories that no other user can change (each one owned by
root or this user, not writable by group or others unless sticky, as ``/tmp`` is).
:func:`bus.endpoints.ensure_runtime_dir` checks the ``ctxbus`` directory inside it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bus.errors import RuntimeDirError

XDG_RUNTIME_DIR = "XDG_RUNTIME_DIR"
SYSTEM_RUNTIME_ROOT = Path("/run/user")
TEMP_ENVS = ("TMPDIR", "TEMP", "TMP")
TEMP_DIRS = (Path("/tmp"), Path("/var/tmp"), Path("/usr/tmp"))
PRIVATE_MODE = 0o700
SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH


def user_runtime_dir() -> Path:
    """The user's runtime dir (not ctxbus's own directory in it): see the module docstring."""
    xdg = os.environ.get(XDG_RUNTIME_DIR, "")
    if os.path.isabs(xdg) and _usable(Path(xdg), missing_ok=True):
        return Path(xdg)
    system = SYSTEM_RUNTIME_ROOT / str(os.geteuid())
    if _usable(system, missing_ok=False):
        return system
    return temp_runtime_dir()


def temp_runtime_dir() -> Path:
    """``runtime-<uid>`` in the temporary directory; refused if others may change it."""
    path = temp_root() / f"runtime-{os.geteuid()}"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not _others_write(info):
        return path
    raise RuntimeDirError(
        f"the fallback runtime dir {path} is not a directory of yours that only you may change; "
        f"set {XDG_RUNTIME_DIR} (or CTXBUS_RUNTIME_DIR) to a directory you own with mode 0700"
    )


def temp_root() -> Path:
    """The first writable of ``$TMPDIR``, ``$TEMP``, ``$TMP`` (if absolute), :data:`TEMP_DIRS`."""
    named = [Path(value) for name in TEMP_ENVS if os.path.isabs(value := os.environ.get(name, ""))]
    for root in [*named, *TEMP_DIRS]:
        if root.is_dir() and os.access(root, os.W_OK | os.X_OK):
            return root
    return TEMP_DIRS[0]


def _usable(path: Path, *, missing_ok: bool) -> bool:
    """Whether ``path`` may be the runtime dir: private and ours, below directories of trust."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return missing_ok and _trusted_ancestors(path)
    except OSError:
        return False
    private = stat.S_IMODE(info.st_mode) == PRIVATE_MODE and info.st_uid == os.geteuid()
    return stat.S_ISDIR(info.st_mode) and private and _trusted_ancestors(path)


def _trusted_ancestors(path: Path) -> bool:
    """Whether every existing ancestor of ``path`` is a directory only root or we can change."""
    for ancestor in path.parents:
        try:
            info = os.stat(ancestor)
        except FileNotFoundError:
            continue
        except OSError:
            return False
        owner_ok = info.st_uid in (0, os.geteuid())
        if not (stat.S_ISDIR(info.st_mode) and owner_ok and not _shared_unsticky(info)):
            return False
    return True


def _shared_unsticky(info: os.stat_result) -> bool:
    return bool(info.st_mode & SHARED_WRITE) and not info.st_mode & stat.S_ISVTX


def _others_write(info: os.stat_result) -> bool:
    return bool(info.st_mode & stat.S_IWOTH)
