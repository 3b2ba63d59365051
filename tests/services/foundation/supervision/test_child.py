"""Child processes: output tail and log file, exit statuses, group termination, lifeline."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from services.foundation.supervision import Child, ChildSpec, describe_exit

PY = sys.executable


def spec(code: str, tmp_path: Path, **extra: bool) -> ChildSpec:
    env = dict(os.environ)
    return ChildSpec("t", (PY, "-c", code), env, tmp_path, lifeline=bool(extra.get("lifeline")))


async def test_exit_code_and_output_tail(tmp_path: Path) -> None:
    """The exit status is reported and the last lines written are kept and logged."""
    code = "import sys\nfor i in range(60): print(f'line {i}')\nsys.exit(3)"
    child = await Child.spawn(spec(code, tmp_path))
    assert await child.wait() == 3
    await child.reaped()
    assert child.tail(2) == ["line 58", "line 59"]
    assert len(child.tail()) == 50
    assert "line 0\n" in (tmp_path / "t.output.log").read_text()


async def test_signal_exit_is_negative_and_described(tmp_path: Path) -> None:
    """A process killed by a signal reports minus the signal number."""
    child = await Child.spawn(spec("import threading; threading.Event().wait()", tmp_path))
    os.kill(child.pid, signal.SIGKILL)
    assert await child.wait() == -signal.SIGKILL
    assert await child.reaped() == -signal.SIGKILL
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"
    assert describe_exit(3) == "exit code 3"


async def test_terminate_kills_the_whole_group_after_grace(tmp_path: Path) -> None:
    """A child ignoring SIGTERM, with a grandchild, is SIGKILLed with its group after the grace."""
    code = (
        "import signal, subprocess, sys, threading\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "forever = 'import threading; threading.Event().wait()'\n"
        "p = subprocess.Popen([sys.executable, '-c', forever])\n"
        "print(p.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    child = await Child.spawn(spec(code, tmp_path))
    async with asyncio.timeout(30):
        grandchild = int(await child.output_line(str.isdigit))
    assert await child.terminate(grace=0.5) == -signal.SIGKILL
    async with asyncio.timeout(5):
        await ended(grandchild)


async def ended(pid: int) -> None:
    """Return once process ``pid`` has ended (its pidfd turns readable; any parent's child)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    loop.add_reader(fd, gone.set_result, None)
    try:
        await gone
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_lifeline_ends_child_when_supervisor_closes_it(tmp_path: Path) -> None:
    """A child watching its lifeline exits when the supervisor's end closes."""
    code = (
        "import asyncio\n"
        "from services.foundation.supervision.lifeline import install_from_env\n"
        "async def main():\n"
        "    install_from_env()\n"
        "    print('watching', flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    child = await Child.spawn(spec(code, tmp_path, lifeline=True))
    async with asyncio.timeout(30):
        await child.output_line(lambda line: line == "watching")
    child.close_lifeline()
    async with asyncio.timeout(5):
        assert await child.reaped() == 1
