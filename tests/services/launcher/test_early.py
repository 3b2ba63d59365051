"""``ctxbus up`` starts main before the CLI's and launcher's imports (services.launcher.early)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import psutil
import pytest

from bus import Endpoints
from bus import endpoints as names
from services.foundation.config import Config, load_config
from services.foundation.supervision import InstanceLock
from services.launcher.early import start_main_early
from tests.fixtures.processes import live_with_env, named_then_killed, started_since
from tests.services.cli.conftest import cli_env

GONE_TIMEOUT = 20.0  # main stops its backend first when its launcher is gone
# `ctxbus up` stopped right after it started main, before its heavy imports.
HALTED_LAUNCHER = (
    "import signal\n"
    "from services.cli.early import parse_early\n"
    "parsed = parse_early(['up', '--json'])\n"
    "print(parsed.launch.main.pid if parsed.launch else 0, flush=True)\n"
    "signal.pause()\n"
)


def config_in(runtime_dir: Path) -> Config:
    dirs = {
        "runtime_dir": runtime_dir,
        "log_dir": runtime_dir / "log",
        "data_dir": runtime_dir / "d",
    }
    return load_config(env={}, flags={key: str(path) for key, path in dirs.items()})


def ours(runtime_dir: Path) -> list[psutil.Process]:
    """Every live process, wherever it is in the tree, started for ``runtime_dir``."""
    return live_with_env("CTXBUS_RUNTIME_DIR", str(runtime_dir))


async def test_main_and_its_backend_end_with_a_launcher_killed_during_its_imports(
    runtime_dir: Path,
) -> None:
    """The launcher SIGKILLed right after starting main (before its imports): nothing is left."""
    main = await named_then_killed(
        (sys.executable, "-c", HALTED_LAUNCHER),
        cli_env(runtime_dir, {"CTXBUS_FRONTEND_PORT": "0", "CTXBUS_MAIN_PORT": "0"}),
    )
    _, alive = await asyncio.to_thread(psutil.wait_procs, [main], GONE_TIMEOUT)
    assert alive == []
    _, left = await asyncio.to_thread(psutil.wait_procs, ours(runtime_dir), GONE_TIMEOUT)
    assert left == []


@pytest.mark.usefixtures("umask")
def test_held_lock_leaves_the_start_to_the_launcher(runtime_dir: Path) -> None:
    """Another launcher holds the runtime dir: main is not started early (the launcher says so)."""
    before = set(psutil.Process().children())  # this session's own, if any
    bus = Endpoints(runtime_dir)
    lock = InstanceLock(bus.file(names.LAUNCHER_LOCK), "ctxbus launcher")
    lock.acquire()
    try:
        assert start_main_early(config_in(runtime_dir), bus) is None
    finally:
        lock.release()
    assert started_since(before) == []


@pytest.mark.usefixtures("umask")
def test_processes_on_record_leave_the_start_to_the_launcher(runtime_dir: Path) -> None:
    """A crashed launcher's processes on record: main is not started early (they end first)."""
    before = set(psutil.Process().children())  # this session's own, if any
    bus = Endpoints(runtime_dir)
    bus.file(names.LAUNCHER_RECORDS).write_text(
        '[{"name": "main", "pid": 1, "create_time": 0, "cmdline": []}]'
    )
    assert start_main_early(config_in(runtime_dir), bus) is None
    assert started_since(before) == []


def test_tcp_bus_leaves_the_start_to_the_launcher(runtime_dir: Path) -> None:
    """Over tcp, this run's CURVE keys come first: main is not started early."""
    before = set(psutil.Process().children())  # this session's own, if any
    bus = Endpoints(runtime_dir, transport="tcp")
    assert start_main_early(config_in(runtime_dir), bus) is None
    assert started_since(before) == []


@pytest.mark.usefixtures("umask")
def test_shared_log_dir_leaves_the_start_to_the_launcher(runtime_dir: Path) -> None:
    """A log dir others may write: main is not started early (the launcher refuses, exit 2)."""
    before = set(psutil.Process().children())  # this session's own, if any
    log_dir = runtime_dir / "log"
    log_dir.mkdir(mode=0o700)
    log_dir.chmod(0o777)
    assert start_main_early(config_in(runtime_dir), Endpoints(runtime_dir)) is None
    assert started_since(before) == []
