"""Supervision of child processes, shared by main (for the backend) and the launcher.

- :mod:`.policy`: when to restart, how long to wait, when to give up (a crash loop).
- :mod:`.child`: one OS process in its own process group, its output in a log file and a tail,
  its exit learned at once, and the terminate → wait → kill → reap order.
- :mod:`.records`: the processes a supervisor started, on disk, so a successor can end what a
  crashed supervisor left behind, and only that.
- :mod:`.lock`: one supervisor per runtime dir.
"""

from __future__ import annotations

from services.supervision.child import Child, ChildSpec, describe_exit
from services.supervision.lock import InstanceLock
from services.supervision.policy import EXIT_CONFIG, Backoff, RestartPolicy, is_permanent
from services.supervision.records import ProcessRecords

__all__ = [
    "EXIT_CONFIG",
    "Backoff",
    "Child",
    "ChildSpec",
    "InstanceLock",
    "ProcessRecords",
    "RestartPolicy",
    "describe_exit",
    "is_permanent",
]
