"""The process-records file (:mod:`.records`) as data: readable without psutil or structlog.

A supervisor that starts its first child before its heavy imports (:mod:`.spawn`) first checks
here that no process of a crashed predecessor is on record; if one is, it leaves the start to its
ordinary path, which ends that process first (:meth:`.records.ProcessRecords.end_stale`).
"""

from __future__ import annotations

from pathlib import Path

import msgspec


class ProcessRecord(msgspec.Struct, frozen=True):
    name: str
    pid: int
    create_time: float
    cmdline: list[str]


def read_records(path: Path) -> list[ProcessRecord]:
    """The records a previous supervisor left, if any (unreadable files count as none)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=list[ProcessRecord])
    except (OSError, msgspec.DecodeError):
        return []


def nothing_on_record(path: Path) -> bool:
    """Whether a previous supervisor left no process to end."""
    return not read_records(path)
