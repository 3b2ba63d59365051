"""Supervision of child processes, shared by main (for the backend) and the launcher.

- :mod:`.policy`: when to restart, how long to wait, when to give up (a crash loop).
- :mod:`.spawn`: how a child is started (its spec, its lifeline), also before the event loop.
- :mod:`.child`: one OS process in its own process group, its output in a log file and a tail,
  its exit learned at once, and the terminate → wait → kill → reap order.
- :mod:`.records`: the processes a supervisor started, on disk, so a successor can end what a
  crashed supervisor left behind, and only that.
- :mod:`.lock`: one supervisor per runtime dir.
- :mod:`.tree`: every process below this one, killed at once and waited for (a forced stop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.foundation.lazy import lazy_names

if TYPE_CHECKING:
    from services.foundation.supervision.child import Child, describe_exit
    from services.foundation.supervision.lock import InstanceLock
    from services.foundation.supervision.policy import (
        EXIT_CONFIG,
        Backoff,
        RestartPolicy,
        is_permanent,
    )
    from services.foundation.supervision.records import ProcessRecords
    from services.foundation.supervision.spawn import ChildSpec, EarlyChild, spawn_early
    from services.foundation.supervision.tree import kill_descendants, wait_gone

# Names are imported on first use (PEP 562): a backend that only needs the lifeline or an exit
# code does not pay for psutil, zmq and msgspec at start-up.
_HOME = {
    "Child": "child",
    "ChildSpec": "spawn",
    "EarlyChild": "spawn",
    "spawn_early": "spawn",
    "describe_exit": "child",
    "InstanceLock": "lock",
    "EXIT_CONFIG": "policy",
    "Backoff": "policy",
    "RestartPolicy": "policy",
    "is_permanent": "policy",
    "ProcessRecords": "records",
    "kill_descendants": "tree",
    "wait_gone": "tree",
}

__getattr__ = lazy_names(__name__, {name: f"{__name__}.{home}" for name, home in _HOME.items()})


__all__ = [
    "EXIT_CONFIG",
    "Backoff",
    "Child",
    "ChildSpec",
    "EarlyChild",
    "InstanceLock",
    "ProcessRecords",
    "RestartPolicy",
    "describe_exit",
    "is_permanent",
    "kill_descendants",
    "spawn_early",
    "wait_gone",
]
