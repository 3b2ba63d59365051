"""The one-shot tools against a real main (or none): output, --json and exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bus import ComponentStatus, Endpoints, Replier
from bus.messages import ComponentList, NoArgs
from bus.ops import LauncherOps
from tests.fixtures.processes import MainProcess
from tests.services.cli.conftest import ctxbus


async def test_status_without_main_exits_1(runtime_dir: Path) -> None:
    """With no main, `ctxbus status` says so, tells what to do, and exits 1."""
    ran = await ctxbus(runtime_dir, "status")
    assert ran.code == 1
    assert "main is not running" in ran.err
    assert "ctxbus up" in ran.err


async def test_nothing_running_says_so(runtime_dir: Path) -> None:
    """With no socket file, every one-shot tool says main is not running and exits 1."""
    for args in (("status",), ("port",), ("down",), ("restart", "backend")):
        ran = await ctxbus(runtime_dir, *args)
        assert (ran.code, "main is not running" in ran.err) == (1, True), (args, ran.err)


async def test_port_without_main_exits_1_json(runtime_dir: Path) -> None:
    """`ctxbus port --json` with no main prints a JSON error and exits 1."""
    ran = await ctxbus(runtime_dir, "port", "--json")
    assert ran.code == 1
    assert json.loads(ran.out)["ok"] is False


async def test_usage_error_exits_2(runtime_dir: Path) -> None:
    """An unknown subcommand or target is a usage error: exit 2."""
    assert (await ctxbus(runtime_dir, "restart", "frontend")).code == 2
    assert (await ctxbus(runtime_dir, "frobnicate")).code == 2


async def test_port_prints_the_base_url(runtime_dir: Path, main_process: MainProcess) -> None:
    """`ctxbus port` prints main's backend base URL; --json adds port, token and state."""
    info = await main_process.port_info()
    plain = await ctxbus(runtime_dir, "port")
    assert (plain.code, plain.out.strip()) == (0, info.base_url)
    ran = await ctxbus(runtime_dir, "port", "--json")
    assert json.loads(ran.out) == {
        "port": info.port,
        "base_url": info.base_url,
        "token": info.token,
        "state": "running",
    }


async def test_status_json(runtime_dir: Path, main_process: MainProcess) -> None:
    """`ctxbus status --json` reports main and the backend as main sees them."""
    status = await main_process.status()
    ran = await ctxbus(runtime_dir, "status", "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert report["backend"]["state"] == "running"
    assert report["backend"]["pid"] == status.pid
    assert report["main"]["pid"] == main_process.child.pid
    assert report["components"] == []


async def test_status_table(runtime_dir: Path, main_process: MainProcess) -> None:
    """Human `ctxbus status` is a table with a row per component and no colour off a terminal."""
    ran = await ctxbus(runtime_dir, "status")
    assert ran.code == 0, ran.err
    assert "\x1b[" not in ran.out
    lines = ran.out.splitlines()
    assert lines[0].split()[:3] == ["component", "state", "pid"]
    assert any(line.split()[:2] == ["backend", "running"] for line in lines)


async def test_restart_backend(runtime_dir: Path, main_process: MainProcess) -> None:
    """`ctxbus restart backend` is accepted and a new backend process takes over."""
    old = await main_process.status()
    after = len(main_process.log.events)
    ran = await ctxbus(runtime_dir, "restart", "backend", "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {"ok": True, "op": "restart_backend", "accepted": True}
    await main_process.log.wait_for(
        lambda e: e.state == "running" and e.pid != old.pid, after=after
    )


async def test_stop_and_start_backend(runtime_dir: Path, main_process: MainProcess) -> None:
    """`ctxbus stop backend` leads to `stopped`, `ctxbus start backend` back to `running`."""
    after = len(main_process.log.events)
    assert (await ctxbus(runtime_dir, "stop", "backend")).code == 0
    await main_process.log.wait_for(lambda e: e.state == "stopped", after=after)
    after = len(main_process.log.events)
    assert (await ctxbus(runtime_dir, "start", "backend")).code == 0
    await main_process.log.wait_for(lambda e: e.state == "running", after=after)


async def test_capture_without_capture_exits_1(runtime_dir: Path) -> None:
    """`ctxbus capture status` with no capture process says so and exits 1."""
    ran = await ctxbus(runtime_dir, "capture", "status")
    assert ran.code == 1
    assert "capture is not running" in ran.err


async def test_logs_show_a_component(runtime_dir: Path, main_process: MainProcess) -> None:
    """`ctxbus logs main --json` prints main's log lines, one JSON object each."""
    ran = await ctxbus(runtime_dir, "logs", "main", "--json", "-n", "5")
    assert ran.code == 0, ran.err
    lines = [json.loads(line) for line in ran.out.splitlines()]
    assert lines
    assert {line["file"] for line in lines} <= {"main.log", "main.output.log"}


def table(out: str) -> dict[str, dict[str, str]]:
    """A rich table printed without borders, as {first cell: {column: cell}} (cells by offset)."""
    header, *lines = [line for line in out.splitlines() if line.strip()]
    names = header.split()
    starts = [header.index(name) for name in names]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    rows = {}
    for line in lines:
        cells = {name: line[a:b].strip() for name, (a, b) in zip(names, bounds, strict=True)}
        rows[cells[names[0]]] = cells
    return rows


@pytest.fixture
async def launcher_stand_in(endpoints: Endpoints) -> AsyncIterator[ComponentList]:
    """A stand-in launcher on the bus; the test fills in what its get_components answers."""
    answer = ComponentList(instance="launcher-1")

    async def get_components(_: NoArgs) -> ComponentList:
        return answer

    replier = Replier(endpoints.launcher)
    replier.register(LauncherOps.GET_COMPONENTS, get_components)
    serving = asyncio.ensure_future(replier.serve())
    yield answer
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


async def test_status_uptime_restarts_and_reasons(
    runtime_dir: Path, main_process: MainProcess, launcher_stand_in: ComponentList
) -> None:
    """Uptime is the process's, main's restarts come from the launcher, running rows no reason."""
    now = time.time()
    launcher_stand_in.components = [
        ComponentStatus(component="main", state="running", pid=main_process.child.pid, restarts=2),
        ComponentStatus(
            component="frontend",
            state="running",
            pid=4242,
            restarts=1,
            reason="crashed (exit code 1)",
            exit_code=1,
            ts=now,
            started_at=now - 3700,
        ),
    ]
    ran = await ctxbus(runtime_dir, "status")
    assert ran.code == 0, ran.err
    rows = table(ran.out)
    assert rows["main"]["restarts"] == "2", ran.out
    assert rows["frontend"]["uptime"] == "1h 01m", ran.out
    assert rows["frontend"]["reason"] == "", ran.out
