"""How the frontend tells its URL: a machine-readable line, and the launcher's ``announce``.

On stdout, one JSON object per line::

    {"ctxbus": "ready", "component": "frontend", "pid": 4242, "url": "http://127.0.0.1:1734/?token=..."}
    {"ctxbus": "url", "component": "frontend", "pid": 4242, "url": "http://127.0.0.1:1734/?token=..."}

``ready`` once the dashboard serves; ``url`` each time the one-time login token was used and a new
one minted. Started by the launcher (``--announce``), the frontend also sends the launcher the same
as an ``announce`` op, and the launcher publishes it in ``component.status``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Literal

import structlog

from bus import AsyncRequester, BusError, ComponentStatus, endpoints
from bus.ops import LauncherOps

log = structlog.get_logger("frontend.announce")

LineKind = Literal["ready", "url"]


def ready_line(kind: LineKind, url: str) -> str:
    """The stdout line for ``kind``."""
    return json.dumps(
        {"ctxbus": kind, "component": endpoints.COMPONENT_FRONTEND, "pid": os.getpid(), "url": url}
    )


def print_line(kind: LineKind, url: str) -> None:
    sys.stdout.write(ready_line(kind, url) + "\n")
    sys.stdout.flush()


async def tell_launcher(launcher: AsyncRequester, url: str) -> None:
    """Send the launcher our URL; a missing launcher is logged, not fatal."""
    status = ComponentStatus(
        component=endpoints.COMPONENT_FRONTEND, state="running", pid=os.getpid(), url=url
    )
    try:
        await launcher.call(LauncherOps.ANNOUNCE, status)
    except BusError as exc:
        log.warning("announce_failed", error=str(exc))
