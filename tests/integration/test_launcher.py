"""`ctxbus up` as a user runs it: ready line, live components on the bus, clean Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import msgspec
import psutil
import pytest

from bus import AsyncRequester, ComponentStatus, Endpoints, StateFollower, Update
from bus import endpoints as names
from bus.ops import LauncherOps
from services.foundation.config import load_config
from services.foundation.exits import EXIT_CONFIG
from services.launcher.component import Component
from services.launcher.specs import component_settings
from tests.fixtures.dashboard import LoopbackTransport
from tests.services.cli.conftest import cli_argv, cli_env, ctxbus

READY_DEADLINE = 60.0
STOP_DEADLINE = 40.0


class Up:
    """A running `ctxbus up --json` and the JSON lines it printed."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    async def next_line(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            raw = await self.proc.stdout.readline()
        assert raw, "ctxbus up ended without printing"
        line: dict[str, Any] = json.loads(raw)
        self.lines.append(line)
        return line

    async def rest(self) -> list[dict[str, Any]]:
        """Every line printed after those read so far (once it has exited)."""
        assert self.proc.stdout is not None
        rest = [json.loads(line) for line in (await self.proc.stdout.read()).splitlines()]
        self.lines.extend(rest)
        return rest

    def tree(self) -> list[psutil.Process]:
        """The launcher and every process below it (main, backends, frontend, capture)."""
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    async def wait(self, timeout: float) -> int:
        async with asyncio.timeout(timeout):
            return await self.proc.wait()


def alive(processes: list[psutil.Process]) -> list[int]:
    left = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return left


def free_port() -> int:
    """A port free right now (the dashboard keeps it across a frontend restart)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def running_up(
    runtime_dir: Path, *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[Up]:
    """`ctxbus up --json *args` on the test's runtime dir, past its ready line."""
    extra = {"CTXBUS_FRONTEND_PORT": str(free_port()), **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("up", "--json", *args),
        env=cli_env(runtime_dir, extra),
        stdout=asyncio.subprocess.PIPE,
    )
    running = Up(proc)
    try:
        ready = await running.next_line(READY_DEADLINE)
        assert ready["ctxbus"] == "ready", ready
        yield running
    finally:
        if proc.returncode is None:
            for child in running.tree()[1:]:
                child.kill()
            proc.kill()
            await proc.wait()


@pytest.fixture
async def up(runtime_dir: Path) -> AsyncIterator[Up]:
    """`ctxbus up --json` on the test's runtime dir, past its ready line."""
    async with running_up(runtime_dir) as running:
        yield running


async def test_ready_line_and_clean_ctrl_c(up: Up) -> None:
    """The ready line names a working dashboard URL; Ctrl-C → exit 0 and no process left."""
    ready = up.lines[0]
    assert set(ready["pids"]) >= {"main", "frontend", "backend"}
    family = up.tree()
    assert {p.pid for p in family} >= set(ready["pids"].values())
    async with httpx.AsyncClient(transport=LoopbackTransport()) as client:
        login = await client.get(ready["url"])
    assert login.status_code == 303
    up.proc.send_signal(signal.SIGINT)
    assert await up.wait(STOP_DEADLINE) == 0
    assert (await up.rest())[-1] == {"ctxbus": "stopped"}
    assert alive(family) == []


async def test_main_started_before_the_imports_is_the_one_that_runs(
    runtime_dir: Path, up: Up
) -> None:
    """`ctxbus up` adopts the main it started before its imports, and main the backend its
    process started before its exec: they serve as main's child, then stop."""
    log_text = (runtime_dir / "log" / "launcher.log").read_text()
    events = [json.loads(line) for line in log_text.splitlines()]
    started = [e for e in events if e["event"] == "child_started" and e["child"] == "main"]
    pids = up.lines[0]["pids"]
    assert [e["child_pid"] for e in started] == [pids["main"]]
    assert "spawned_at" in started[0]  # spawned before the launcher could log
    main_log = (runtime_dir / "log" / "main.log").read_text()
    main_events = [json.loads(line) for line in main_log.splitlines()]
    [main_ready] = [e for e in main_events if e["event"] == "main_ready"]
    assert main_ready["first_backend"] == "before_exec"
    assert psutil.Process(pids["backend"]).ppid() == pids["main"]
    family = up.tree()
    up.proc.send_signal(signal.SIGINT)
    assert await up.wait(STOP_DEADLINE) == 0
    assert alive(family) == []


async def test_components_are_on_the_bus(runtime_dir: Path, up: Up) -> None:
    """While up, `ctxbus status --json` lists main and the frontend running, with its URL."""
    ran = await ctxbus(runtime_dir, "status", "--json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    states = {c["component"]: c for c in report["components"]}
    assert states["main"]["state"] == "running"
    assert states["frontend"]["state"] == "running"
    assert re.match(
        r"^http://ctxbus-[a-z0-9]{10}\.localhost:\d+/\?token=", states["frontend"]["url"]
    )
    assert report["backend"]["state"] == "running"
    up.proc.send_signal(signal.SIGTERM)
    assert await up.wait(STOP_DEADLINE) == 0


async def test_down_stops_everything(runtime_dir: Path, up: Up) -> None:
    """`ctxbus down` asks the launcher to stop: it exits 0 and leaves no process."""
    family = up.tree()
    ran = await ctxbus(runtime_dir, "down", "--json")
    assert ran.code == 0, ran.err
    assert await up.wait(STOP_DEADLINE) == 0
    assert alive(family) == []


async def test_second_ctrl_c_forces(up: Up) -> None:
    """A second Ctrl-C kills every process at once: exit 130, nothing left."""
    family = up.tree()
    up.proc.send_signal(signal.SIGINT)
    assert (await up.next_line(10))["ctxbus"] == "stopping"
    up.proc.send_signal(signal.SIGINT)
    assert await up.wait(STOP_DEADLINE) == 130
    assert alive(family) == []


async def test_second_launcher_is_refused(runtime_dir: Path, up: Up) -> None:
    """A second `ctxbus up` on the same runtime dir exits 1 at once, naming the first."""
    ran = await ctxbus(runtime_dir, "up", env={"CTXBUS_FRONTEND_PORT": "0"})
    assert ran.code == 1
    assert f"pid {up.proc.pid}" in ran.err
    assert "already running" in ran.err
    up.proc.send_signal(signal.SIGINT)
    assert await up.wait(STOP_DEADLINE) == 0


async def test_crashed_frontend_is_restarted(runtime_dir: Path, up: Up) -> None:
    """SIGKILL of the frontend: restarted, new pid and URL published, the session still valid."""
    endpoints = Endpoints(runtime_dir)
    old = up.lines[0]["pids"]["frontend"]
    browser = httpx.AsyncClient(transport=LoopbackTransport())  # the dashboard's .localhost name
    assert (await browser.get(up.lines[0]["url"])).status_code == 303
    launcher = AsyncRequester(endpoints.launcher)
    follower = StateFollower(
        endpoints.events,
        names.COMPONENT_STATUS,
        ComponentStatus,
        lambda: launcher.call(LauncherOps.GET_STATUS),
    )
    # updates() is an async generator; typed as an iterator, so the cast for aclose().
    updates = cast(AsyncGenerator[Update[ComponentStatus], None], follower.updates())
    await anext(updates)  # following (snapshot taken) before the kill
    os.kill(old, signal.SIGKILL)
    async with asyncio.timeout(READY_DEADLINE):
        async for update in updates:
            event = update.event
            if event and event.component == "frontend" and event.state == "running":
                break
    assert event is not None
    assert event.pid != old
    assert event.restarts == 1
    assert event.url is not None
    assert urlsplit(event.url).netloc == urlsplit(up.lines[0]["url"]).netloc
    page = await browser.get(urlsplit(event.url)._replace(query="").geturl())
    assert page.status_code == 200, "the open page's session survives the restart"
    await browser.aclose()
    await updates.aclose()
    launcher.close()
    up.proc.send_signal(signal.SIGINT)
    assert await up.wait(STOP_DEADLINE) == 0


async def test_backend_that_cannot_start_fails_fast(runtime_dir: Path) -> None:
    """main gives up on a backend that cannot start: `ctxbus up` says why and exits 1."""
    blocker = runtime_dir / "not-a-dir"
    blocker.write_text("")
    env = {"CTXBUS_DATA_DIR": str(blocker / "data"), "CTXBUS_FRONTEND_PORT": "0"}
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("up", "--json"), env=cli_env(runtime_dir, env), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), READY_DEADLINE)
    lines = [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 1
    failed = next(line for line in lines if line["ctxbus"] == "failed")
    assert "cannot create the data dir" in failed["reason"]
    assert "data_dir" in failed["reason"]
    assert lines[-1]["ctxbus"] == "stopped"


async def test_terminal_gets_short_lines_and_the_file_the_log(runtime_dir: Path) -> None:
    """Human `ctxbus up`: the URL, a line per restart, no log lines; the file has component_pid."""
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("up"),
        env=cli_env(runtime_dir, {"CTXBUS_FRONTEND_PORT": str(free_port())}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(READY_DEADLINE):
            ready = (await proc.stdout.readline()).decode()
        assert re.match(r"ctxbus is up: http://ctxbus-[a-z0-9]{10}\.localhost:\d+/", ready), ready
        listing = await ctxbus(runtime_dir, "status", "--json")
        victim = next(
            c["pid"] for c in json.loads(listing.out)["components"] if c["component"] == "frontend"
        )
        os.kill(victim, signal.SIGKILL)
        async with asyncio.timeout(READY_DEADLINE):
            news = (await proc.stdout.readline()).decode()
        assert news.startswith("frontend ended (signal SIGKILL)"), news
        assert "restarting" in news
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(STOP_DEADLINE):
            _, err = await proc.communicate()
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert err.decode() == "", "no log lines on the terminal"
    logged = [
        json.loads(line) for line in (runtime_dir / "log" / "launcher.log").read_text().splitlines()
    ]
    exited = next(event for event in logged if event["event"] == "component_exited")
    assert (exited["component_pid"], exited["pid"]) == (victim, proc.pid)


async def test_settings_reach_the_children_by_environment_only(runtime_dir: Path) -> None:
    """`ctxbus up --port N`: main gets no setting flag, reads CTXBUS_MAIN_PORT, serves on N."""
    port = free_port()
    async with running_up(runtime_dir, "--port", str(port)) as up:
        pids = up.lines[0]["pids"]
        for name in ("main", "frontend"):
            flags = [arg for arg in psutil.Process(pids[name]).cmdline() if arg.startswith("--")]
            assert flags in ([], ["--announce"]), f"{name} got setting flags: {flags}"
        assert psutil.Process(pids["main"]).environ()["CTXBUS_MAIN_PORT"] == str(port)
        ran = await ctxbus(runtime_dir, "port", "--json")
        assert ran.code == 0, ran.err
        assert json.loads(ran.out)["port"] == port
        up.proc.send_signal(signal.SIGINT)
        assert await up.wait(STOP_DEADLINE) == 0


@pytest.mark.parametrize(
    ("component", "variable", "text", "key"),
    [
        ("main", "CTXBUS_MAIN_PORT", "99999", "main.port"),
        ("frontend", "CTXBUS_FRONTEND_PORT", "notaport", "frontend.port"),
        ("capture", "CTXBUS_CAPTURE_QUALITY", "500", "capture.quality"),
    ],
)
async def test_a_component_with_a_bad_setting_is_not_restarted(
    runtime_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    component: str,
    variable: str,
    text: str,
    key: str,
) -> None:
    """Bad setting → the component exits 78; the launcher shows `error` with why, 0 restarts.

    `ctxbus up` refuses a bad value before it starts anything (exit 2, see the CLI tests), so
    the bad value is given to this one child only, through the launcher's own spawn code.
    """
    for name in [name for name in os.environ if name.startswith("CTXBUS_")]:
        monkeypatch.delenv(name)
    for name, value in cli_env(runtime_dir).items():
        monkeypatch.setenv(name, value)
    settings = next(s for s in component_settings(load_config()) if s.spec.name == component)
    spec = msgspec.structs.replace(settings.spec, env={**settings.spec.env, variable: text})
    seen: list[ComponentStatus] = []

    async def record(status: ComponentStatus) -> None:
        seen.append(status)

    supervised = Component(msgspec.structs.replace(settings, spec=spec), record)
    async with asyncio.timeout(READY_DEADLINE):
        await supervised.run()  # returns once it gives up
    status = supervised.status
    assert (status.state, status.restarts, status.exit_code) == ("error", 0, EXIT_CONFIG)
    assert status.reason is not None
    assert status.reason.startswith("cannot run as configured")
    assert f"bad value {text!r} for {key} (from ${variable})" in status.reason
    assert len({s.pid for s in seen if s.pid is not None}) == 1, "spawned once"
