"""Which processes a supervisor started, on disk, so that its successor can end exactly those.

A record is (pid, create time, command line). A pid alone is not an identity: after a crash
the pid may belong to an unrelated process by the time we look, so a recorded process is ours
only if its create time and command line match too. Nothing else is ever killed, whatever port
or file it holds.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import msgspec
import psutil
import structlog

from services.foundation.supervision.record_file import ProcessRecord, read_records

__all__ = ["ProcessRecord", "ProcessRecords", "is_ours"]

log = structlog.get_logger(__name__)

CREATE_TIME_TOLERANCE = 0.05  # seconds; psutil derives it from clock ticks


class ProcessRecords:
    """A JSON file of :class:`ProcessRecord`, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[int, ProcessRecord] = {}

    def add(self, name: str, pid: int) -> None:
        """Record a process this supervisor just started."""
        try:
            proc = psutil.Process(pid)
            record = ProcessRecord(name, pid, proc.create_time(), proc.cmdline())
        except psutil.Error:
            return  # already gone: nothing to record
        self._records[pid] = record
        self._save()

    def remove(self, pid: int) -> None:
        if self._records.pop(pid, None) is not None:
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(list(self._records.values())))
        os.replace(tmp, self.path)

    def load(self) -> list[ProcessRecord]:
        """The records a previous supervisor left, if any (unreadable files count as none)."""
        return read_records(self.path)

    def end_stale(self, timeout: float = 3.0) -> list[ProcessRecord]:
        """End the recorded processes of a dead predecessor that are still ours; clear the file."""
        ended = [record for record in self.load() if _end_if_ours(record, timeout)]
        self._records.clear()
        self._save()
        return ended


def is_ours(record: ProcessRecord) -> psutil.Process | None:
    """The live process of ``record`` if pid, create time and command line all still match."""
    try:
        proc = psutil.Process(record.pid)
        same = (
            abs(proc.create_time() - record.create_time) <= CREATE_TIME_TOLERANCE
            and proc.cmdline() == record.cmdline
        )
    except psutil.Error:
        return None
    return proc if same else None


def _end_if_ours(record: ProcessRecord, timeout: float) -> bool:
    proc = is_ours(record)
    if proc is None:
        return False
    log.warning("ending_stale_process", name=record.name, stale_pid=record.pid)
    try:
        os.killpg(record.pid, signal.SIGTERM)  # its own group: it was started as a group leader
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pid, signal.SIGKILL)
        proc.kill()
    return True
