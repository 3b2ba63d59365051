"""Every process below this one: SIGKILLed at once and waited for (a forced stop).

Killing each child's process group is not enough: main's backends run in groups of their own
and die of main's death a moment later, through their lifeline. A forced stop that returns before
then leaves a process behind, however briefly; so it kills the whole tree it can see and waits
until every one of them is gone.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

POLL = 0.01  # seconds between looks while waiting for the killed processes to go


def kill_descendants() -> list[psutil.Process]:
    """SIGKILL every process below this one, now; the processes signalled."""
    import psutil  # here: only a forced stop needs it (a supervisor starts without it)

    try:
        found = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return found


def wait_gone(processes: list[psutil.Process], timeout: float) -> list[int]:
    """Wait up to ``timeout`` s until none of ``processes`` runs; the pids still running.

    A zombie counts as gone: it holds no resource but its entry, and only its parent (or init)
    can reap it.
    """
    deadline = time.monotonic() + timeout
    left = _running(processes)
    while left and time.monotonic() < deadline:
        time.sleep(POLL)
        left = _running(left)
    return [proc.pid for proc in left]


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    import psutil  # here: see kill_descendants

    left = []
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc)
    return left
