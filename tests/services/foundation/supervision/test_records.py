"""Process records and the instance lock: only our own processes are ever ended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from bus import SetupError
from services.foundation.supervision import InstanceLock, ProcessRecords
from services.foundation.supervision.records import identity

SLEEPER = [sys.executable, "-c", "import threading; threading.Event().wait()"]


def test_end_stale_ends_recorded_process_and_clears(tmp_path: Path) -> None:
    """A recorded live process whose identity matches is ended, and the file emptied."""
    proc = subprocess.Popen(SLEEPER, start_new_session=True)
    try:
        records = ProcessRecords(tmp_path / "p.json")
        records.add("backend", proc.pid)
        ended = ProcessRecords(tmp_path / "p.json").end_stale(timeout=5)
        assert [r.pid for r in ended] == [proc.pid]
        assert proc.wait(timeout=5) is not None
        assert ProcessRecords(tmp_path / "p.json").load() == []
    finally:
        proc.kill()
        proc.wait()


def test_pid_reused_by_another_program_is_left_alone(tmp_path: Path) -> None:
    """A record whose pid now belongs to a different command line is not touched."""
    proc = subprocess.Popen(SLEEPER)
    try:
        path = tmp_path / "p.json"
        path.write_text(
            f'[{{"name":"backend","pid":{proc.pid},"create_time":1.0,"cmdline":["other"]}}]'
        )
        assert ProcessRecords(path).end_stale(timeout=1) == []
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_unreadable_records_count_as_none(tmp_path: Path) -> None:
    """A corrupt records file is treated as empty, not as an error."""
    path = tmp_path / "p.json"
    path.write_text("{not json")
    assert ProcessRecords(path).load() == []


def test_second_lock_holder_is_refused_with_pid(tmp_path: Path) -> None:
    """A second process taking the lock gets SetupError naming the holder's pid."""
    lock = InstanceLock(tmp_path / "main.lock", "ctxbus main")
    lock.acquire()
    try:
        code = (
            "import sys\nfrom pathlib import Path\n"
            "from services.foundation.supervision import InstanceLock\n"
            f"InstanceLock(Path({str(tmp_path / 'main.lock')!r}), 'ctxbus main').acquire()\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode != 0
        assert "already running" in done.stderr
        assert f"pid {os.getpid()}" in done.stderr
    finally:
        lock.release()
    other = InstanceLock(tmp_path / "main.lock", "x")
    other.acquire()
    with pytest.raises(SetupError):
        InstanceLock(tmp_path / "main.lock", "x").acquire()
    other.release()


def test_identity_is_read_as_psutil_reads_it() -> None:
    """The create time and command line a record keeps (read from /proc, without psutil) are
    psutil's, which checks them later: odd arguments too; a reaped process has none."""
    proc = subprocess.Popen([*SLEEPER, "two words", "", "ü"])
    try:
        found = identity(proc.pid)
        live = psutil.Process(proc.pid)
        assert found == (live.create_time(), live.cmdline())
    finally:
        proc.kill()
        proc.wait()
    assert identity(proc.pid) is None
