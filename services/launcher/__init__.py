"""``ctxbus up``: the launcher that starts and supervises main, the frontend and capture.

- :mod:`.early`: main started before the CLI's and the launcher's heavy imports.
- :mod:`.component`: one supervised process (restart with backoff, give-up, stop).
- :mod:`.specs`: what it starts, from the configuration.
- :mod:`.service`: the loop: start, wait until ready, shut down in order.
- :mod:`.report`: what it prints.
- :mod:`.run`: the process: logging, then the loop.

The names are imported on first use, so that :mod:`.early` stays lean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.foundation.lazy import lazy_names

if TYPE_CHECKING:
    from services.launcher.run import run_launcher
    from services.launcher.service import Launcher, launch

__all__ = ["Launcher", "launch", "run_launcher"]
_HOMES = {
    "Launcher": "services.launcher.service",
    "launch": "services.launcher.service",
    "run_launcher": "services.launcher.run",
}

__getattr__ = lazy_names(__name__, _HOMES)
