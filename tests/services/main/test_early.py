"""main starts its first backend before its heavy imports, then adopts it (services.main.early)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from bus import Endpoints
from bus import endpoints as names
from services.foundation.exits import EXIT_CONFIG
from services.foundation.supervision import InstanceLock
from services.foundation.supervision.record_file import nothing_on_record
from services.foundation.supervision.spawn import ChildSpec, EarlyChild, spawn_early
from services.main.args import config_from, parser
from services.main.early import HANDOVER_ENV, Handover, start_early
from services.main.settings import MainSettings
from tests.fixtures.processes import (
    live_with_env,
    main_argv,
    named_then_killed,
    running_main,
    started_since,
)

GONE_TIMEOUT = 10.0
# main stopped right after its early start, before importing asyncio, zmq and structlog.
HALTED_MAIN = (
    "import signal, sys\n"
    "from services.main.early import start_early\n"
    "early = start_early(sys.argv[1:])\n"
    "print(early.backend.child.pid if early else 0, flush=True)\n"
    "signal.pause()\n"
)

# main as `ctxbus up` starts it (Handover), stopped right after its early start: what it adopted.
HANDED_MAIN = (
    "import json, os, signal, sys\n"
    f"slots = [int(fd) for fd in os.environ['{HANDOVER_ENV}'].split(',')]\n"
    "from services.main.early import start_early\n"
    "early = start_early(sys.argv[1:])\n"
    "print(json.dumps({\n"
    "    'backend': early.backend.child.pid if early else 0,\n"
    "    'handed_over': bool(early and early.handed_over),\n"
    "    'open': [fd for fd in slots if os.path.exists(f'/proc/self/fd/{fd}')],\n"
    "}), flush=True)\n"
    "signal.pause()\n"
)


def backends_of(data_dir: Path) -> list[psutil.Process]:
    """Every live backend process, wherever it is in the tree, that serves ``data_dir``."""
    return live_with_env("CTXBUS_BACKEND_DATA_DIR", str(data_dir))


def main_args(runtime_dir: Path, *extra: str) -> list[str]:
    """main's flags as in the integration tests (``main_argv`` without the interpreter)."""
    return list(main_argv(runtime_dir, *extra)[3:])


def spawn_handed_main(runtime_dir: Path) -> EarlyChild:
    """:data:`HANDED_MAIN` spawned as the launcher spawns main, with a :class:`Handover`."""
    args = main_args(runtime_dir)
    settings = MainSettings.from_config(config_from(parser().parse_args(args)))
    argv = (sys.executable, "-c", HANDED_MAIN, *args)
    return spawn_early(ChildSpec(name="main", argv=argv, env=os.environ), Handover(settings))


async def said_by(child: EarlyChild) -> dict[str, Any]:
    stdout = child.process.stdout
    assert stdout is not None
    said: dict[str, Any] = json.loads(await asyncio.to_thread(stdout.readline))
    return said


async def test_backend_started_before_mains_exec_is_adopted_as_its_child(
    runtime_dir: Path,
) -> None:
    """`ctxbus up`'s way: main's process starts the backend before its exec; main adopts it
    (its own child, not its launcher's), and it dies with main."""
    main = spawn_handed_main(runtime_dir)
    try:
        said = await said_by(main)
        assert said["handed_over"]
        backend = psutil.Process(said["backend"])
        assert backend.ppid() == main.pid
        assert backend in psutil.Process(main.pid).children()
    finally:
        main.abandon()
    _, alive = await asyncio.to_thread(psutil.wait_procs, [backend], GONE_TIMEOUT)
    assert alive == []
    assert backends_of(runtime_dir / "data") == []


async def test_handover_that_claimed_nothing_leaves_no_descriptor_behind(
    runtime_dir: Path,
) -> None:
    """Another main holds the runtime dir: nothing is started before main's exec, nor by main,
    and main keeps none of the handover's placeholders open."""
    lock = InstanceLock(Endpoints(runtime_dir).file(names.MAIN_LOCK), "ctxbus main")
    lock.acquire()
    main = spawn_handed_main(runtime_dir)
    try:
        said = await said_by(main)
    finally:
        main.abandon()
        lock.release()
    assert said == {"backend": 0, "handed_over": False, "open": []}
    assert backends_of(runtime_dir / "data") == []


async def test_adopted_first_backend_is_supervised_and_restarted(runtime_dir: Path) -> None:
    """The first backend, started before main's imports, serves; its crash is restarted."""
    async with running_main(runtime_dir, ["--no-standby"]) as main:
        first = await main.status()
        log_text = (runtime_dir / "log" / "main.log").read_text()
        events = [json.loads(line) for line in log_text.splitlines()]
        started = [e for e in events if e["event"] == "child_started"]
        assert started[0]["child_pid"] == first.pid
        assert "spawned_at" in started[0]  # adopted: spawned before main could log
        mark = len(main.log.events)  # the first start's events may still come after it
        os.kill(first.pid or 0, signal.SIGKILL)
        restarting = await main.log.wait_for(
            lambda e: e.state == "starting" and e.reason is not None, after=mark
        )
        running = await main.log.wait_for(
            lambda e: e.state == "running" and e.pid != first.pid, after=mark
        )
        assert restarting.reason == "crashed (signal SIGKILL)"
        assert running.pid is not None


async def test_bad_config_exits_78_and_starts_no_backend(runtime_dir: Path, tmp_path: Path) -> None:
    """A bad configuration: main says which key, exits 78, and no backend was ever started."""
    config = tmp_path / "config.toml"
    config.write_text('[main]\nport = "high"\n')
    argv = main_argv(runtime_dir, "--config", str(config))
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_CONFIG
    assert "main.port" in done.stderr
    assert backends_of(runtime_dir / "data") == []
    assert not (runtime_dir / "log" / "backend.output.log").exists()


async def test_backend_dies_with_a_main_killed_during_its_imports(runtime_dir: Path) -> None:
    """main SIGKILLed right after its early start (before its imports): its backend dies too."""
    backend = await named_then_killed((sys.executable, "-c", HALTED_MAIN, *main_args(runtime_dir)))
    _, alive = await asyncio.to_thread(psutil.wait_procs, [backend], GONE_TIMEOUT)
    assert alive == []
    assert backends_of(runtime_dir / "data") == []


@pytest.mark.usefixtures("umask")
def test_held_lock_leaves_the_start_to_main(runtime_dir: Path) -> None:
    """Another main holds the runtime dir: nothing is started early (main reports it)."""
    before = set(psutil.Process().children())  # this session's own, if any
    lock = InstanceLock(Endpoints(runtime_dir).file(names.MAIN_LOCK), "ctxbus main")
    lock.acquire()
    try:
        assert start_early(main_args(runtime_dir)) is None
    finally:
        lock.release()
    assert started_since(before) == []


@pytest.mark.usefixtures("umask")
def test_processes_on_record_leave_the_start_to_main(runtime_dir: Path) -> None:
    """A crashed main's processes on record: nothing is started early (main ends them first)."""
    before = set(psutil.Process().children())  # this session's own, if any
    records = Endpoints(runtime_dir).file(names.MAIN_RECORDS)
    records.write_text('[{"name": "backend", "pid": 1, "create_time": 0, "cmdline": []}]')
    assert start_early(main_args(runtime_dir)) is None
    assert started_since(before) == []
    records.write_text("[]")
    assert nothing_on_record(records)
