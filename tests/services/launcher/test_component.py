"""The launcher's supervision of one component, with real child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import msgspec

from bus import ComponentStatus
from services.foundation.supervision import ChildSpec, RestartPolicy
from services.launcher.component import Component, ComponentSettings
from tests.fixtures.recorder import Recorder

FAST = RestartPolicy(initial_delay=0.01, max_delay=0.05, max_crashes=3, min_uptime=1.0)


def spec(tmp_path: Path, code: str) -> ChildSpec:
    return ChildSpec(name="probe", argv=(sys.executable, "-c", code), log_dir=tmp_path)


async def test_crash_loop_gives_up_with_diagnosis(tmp_path: Path) -> None:
    """A child that exits at once is restarted with backoff, then given up with its output."""
    record = Recorder[ComponentStatus]("component status", timeout=20.0)
    code = "import sys; print('cannot start: no config'); sys.exit(3)"
    component = Component(ComponentSettings(spec(tmp_path, code), FAST), record)
    await component.run()
    final = record.items[-1]
    assert final.state == "error"
    assert final.exit_code == 3
    assert final.reason is not None
    assert "exit code 3" in final.reason
    assert "cannot start: no config" in final.reason
    assert final.restarts == FAST.max_crashes


async def test_stop_ends_a_running_child(tmp_path: Path) -> None:
    """stop(): stopping, then stopped with exit status 0 for a child that honours SIGTERM."""
    record = Recorder[ComponentStatus]("component status", timeout=20.0)
    read_end, write_end = os.pipe()
    code = (
        "import os, signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        f"os.write({write_end}, b'up\\n'); signal.pause()"
    )
    child_spec = msgspec.structs.replace(spec(tmp_path, code), pass_fds=(write_end,))
    component = Component(ComponentSettings(child_spec, FAST, running_on_spawn=True), record)
    runner = asyncio.ensure_future(component.run())
    await record.wait_for(lambda s: s.state == "running")
    os.close(write_end)
    loop = asyncio.get_running_loop()
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        line = await loop.run_in_executor(None, pipe.readline)  # the handler is installed
    assert line == b"up\n"
    assert await component.stop(5.0) == 0
    await runner
    assert [s.state for s in record.items][-2:] == ["stopping", "stopped"]


async def test_running_again_clears_the_old_exit(tmp_path: Path) -> None:
    """Restarted and running: reason and exit_code are cleared; started_at is the new process's."""
    record = Recorder[ComponentStatus]("component status", timeout=20.0)
    marker = tmp_path / "crashed-once"
    code = (
        "import pathlib, signal, sys; m = pathlib.Path(sys.argv[1])\n"
        "if not m.exists(): m.touch(); sys.exit(5)\n"
        "signal.pause()"
    )
    argv = (sys.executable, "-c", code, str(marker))
    child_spec = msgspec.structs.replace(spec(tmp_path, code), argv=argv)
    component = Component(ComponentSettings(child_spec, FAST, running_on_spawn=True), record)
    runner = asyncio.ensure_future(component.run())
    restarted = await record.wait_for(lambda s: s.state == "running" and s.restarts == 1)
    exited = next(s for s in record.items if s.exit_code == 5)
    assert exited.reason is not None
    assert (restarted.reason, restarted.exit_code) == (None, None)
    first_start = next(s.started_at for s in record.items if s.started_at is not None)
    assert restarted.started_at is not None
    assert restarted.started_at > first_start
    assert await component.stop(5.0) == -signal.SIGTERM
    await runner
    assert record.items[-1].started_at is None
