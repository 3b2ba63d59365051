"""Which processes a supervisor started, on disk, so that its successor can end exactly those.

A record is (pid, create time, command line). A pid alone is not an identity: after a crash
the pid may belong to an unrelated process by the time we look, so a recorded process is ours
only if its create time and command line match too. Nothing else is ever killed, whatever port
or file it holds.

Recording reads the two from ``/proc`` as psutil does on Linux (the create time is the boot time
plus the start time in clock ticks), so that a supervisor starts without importing psutil (5 ms
and 1 MB each); checking a predecessor's records, a rare path, uses psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import structlog

from services.foundation.supervision.record_file import ProcessRecord, read_records

if TYPE_CHECKING:
    import psutil

__all__ = ["ProcessRecord", "ProcessRecords", "identity", "is_ours"]

log = structlog.get_logger(__name__)

CREATE_TIME_TOLERANCE = 0.05  # seconds; psutil derives it from clock ticks


class ProcessRecords:
    """A JSON file of :class:`ProcessRecord`, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[int, ProcessRecord] = {}

    def add(self, name: str, pid: int) -> None:
        """Record a process this supervisor just started."""
        found = identity(pid)
        if found is None:
            return  # already gone: nothing to record
        self._records[pid] = ProcessRecord(name, pid, *found)
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


def identity(pid: int) -> tuple[float, list[str]] | None:
    """The create time and command line of ``pid`` (None if it is gone), as psutil has them."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return _psutil_identity(pid) if not Path("/proc/self/stat").exists() else None
    except (ProcessLookupError, PermissionError):
        return None
    # After the command name in parentheses (which may hold any byte): field 22 is the start.
    start_ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
    created = _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")
    args = cmdline.split(b"\0")
    if args and args[-1] == b"":
        args.pop()
    return created, [arg.decode(errors="surrogateescape") for arg in args]


def _boot_time() -> float:
    for line in Path("/proc/stat").read_bytes().splitlines():
        if line.startswith(b"btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _psutil_identity(pid: int) -> tuple[float, list[str]] | None:
    """Where there is no ``/proc``."""
    import psutil  # here: see the module

    try:
        proc = psutil.Process(pid)
        return proc.create_time(), proc.cmdline()
    except psutil.Error:
        return None


def is_ours(record: ProcessRecord) -> psutil.Process | None:
    """The live process of ``record`` if pid, create time and command line all still match."""
    import psutil  # here: see the module

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
    import psutil  # here: see the module

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
