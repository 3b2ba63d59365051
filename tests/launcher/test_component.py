"""The launcher's supervision of one component, with real child processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

from bus import ComponentStatus
from services.launcher.component import Component, ComponentSettings
from services.supervision import ChildSpec, RestartPolicy

FAST = RestartPolicy(initial_delay=0.01, max_delay=0.05, max_crashes=3, min_uptime=1.0)


class Recorder:
    """Every status a component reports, with a way to wait for one."""

    def __init__(self) -> None:
        self.statuses: list[ComponentStatus] = []
        self._changed = asyncio.Condition()

    async def __call__(self, status: ComponentStatus) -> None:
        async with self._changed:
            self.statuses.append(status)
            self._changed.notify_all()

    async def wait_for(self, state: str, timeout: float = 20.0) -> ComponentStatus:
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for status in self.statuses:
                    if status.state == state:
                        return status
                await self._changed.wait()


def spec(tmp_path: Path, code: str) -> ChildSpec:
    return ChildSpec(name="probe", argv=(sys.executable, "-c", code), log_dir=tmp_path)


async def test_crash_loop_gives_up_with_diagnosis(tmp_path: Path) -> None:
    """A child that exits at once is restarted with backoff, then given up with its output."""
    record = Recorder()
    code = "import sys; print('cannot start: no config'); sys.exit(3)"
    component = Component(ComponentSettings(spec(tmp_path, code), FAST), record)
    await component.run()
    final = record.statuses[-1]
    assert final.state == "error"
    assert final.exit_code == 3
    assert final.reason is not None
    assert "exit code 3" in final.reason
    assert "cannot start: no config" in final.reason
    assert final.restarts == FAST.max_crashes


async def test_stop_ends_a_running_child(tmp_path: Path) -> None:
    """stop(): stopping, then stopped with exit status 0 for a child that honours SIGTERM."""
    record = Recorder()
    read_end, write_end = os.pipe()
    code = (
        "import os, signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        f"os.write({write_end}, b'up\\n'); signal.pause()"
    )
    child_spec = dataclasses.replace(spec(tmp_path, code), pass_fds=(write_end,))
    component = Component(ComponentSettings(child_spec, FAST, running_on_spawn=True), record)
    runner = asyncio.ensure_future(component.run())
    await record.wait_for("running")
    os.close(write_end)
    loop = asyncio.get_running_loop()
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        line = await loop.run_in_executor(None, pipe.readline)  # the handler is installed
    assert line == b"up\n"
    assert await component.stop(5.0) == 0
    await runner
    assert [s.state for s in record.statuses][-2:] == ["stopping", "stopped"]
