"""The user's XDG base directories that ctxbus keeps files in: data, logs, configuration.

The same paths platformdirs gives on Linux, without importing platformdirs (1.6 MB in every
process: it imports tempfile, shutil, bz2, lzma and random):

- data: ``$XDG_DATA_HOME/ctxbus``, else ``~/.local/share/ctxbus``;
- logs: ``$XDG_STATE_HOME/ctxbus/log``, else ``~/.local/state/ctxbus/log``;
- configuration: ``$XDG_CONFIG_HOME/ctxbus``, else ``~/.config/ctxbus``.

As the XDG Base Directory spec says, a variable that is unset, empty or holds a relative path is
ignored. ``~`` is ``$HOME`` when that is absolute, else the home dir in the password database.
The runtime dir, where the bus's sockets live, is the bus's own: :mod:`bus.runtime_dir`.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from bus.endpoints import APP_NAME
from bus.errors import SetupError

XDG_DATA_HOME = "XDG_DATA_HOME"
XDG_STATE_HOME = "XDG_STATE_HOME"
XDG_CONFIG_HOME = "XDG_CONFIG_HOME"
LOG_SUBDIR = "log"


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/ctxbus``, else ``~/.local/share/ctxbus``."""
    return xdg_home(XDG_DATA_HOME, ".local/share") / APP_NAME


def user_log_dir() -> Path:
    """``$XDG_STATE_HOME/ctxbus/log``, else ``~/.local/state/ctxbus/log``."""
    return xdg_home(XDG_STATE_HOME, ".local/state") / APP_NAME / LOG_SUBDIR


def user_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/ctxbus``, else ``~/.config/ctxbus``."""
    return xdg_home(XDG_CONFIG_HOME, ".config") / APP_NAME


def xdg_home(variable: str, under_home: str) -> Path:
    """``$variable`` when it holds an absolute path, else ``under_home`` in the home dir."""
    value = os.environ.get(variable, "")
    if os.path.isabs(value):
        return Path(value)
    return home_dir() / under_home


def home_dir() -> Path:
    """``$HOME`` when it is absolute, else this user's home dir in the password database."""
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return Path(home)
    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        home = ""
    if not os.path.isabs(home):
        raise SetupError(
            "cannot tell your home directory: set HOME to an absolute path "
            "(or CTXBUS_DATA_DIR, CTXBUS_LOG_DIR and CTXBUS_CONFIG)"
        )
    return Path(home)
