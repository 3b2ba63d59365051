"""A running `ctxbus up` for the benchmarks, and its processes named by role.

:func:`running_up` starts ``ctxbus up`` (``--json``, or as people run it) with private runtime,
data, log and config dirs, reads its ready line and waits until every component the launcher
supervises is running and main's standby has started. :meth:`Runtime.roles` names every process
of the tree (launcher, main, backend active, backend standby, frontend, capture, indexer) from its
command line and main's ``backend.status`` pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
RUNNING_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
IDLE_CPU = 0.05  # share of a core below which a process counts as idle
MB = 2**20
STANDBY = "backend standby"  # main keeps one by default (main.standby)
TESSERACT = "indexer's tesseract"  # one per frame read
MODULE_ROLES = (
    ("-m services.main", "main"),
    ("-m backend", STANDBY),  # unless it is the serving one
    ("-m frontend", "frontend"),
    ("-m services.capture", "capture"),
    ("-m services.indexer", "indexer"),
    ("-m services.cli", "launcher"),
    ("tesseract", TESSERACT),
)


@dataclass(frozen=True, slots=True)
class Usage:
    """One process's memory, in MB."""

    pid: int
    rss: float
    uss: float


@dataclass
class Runtime:
    """A running `ctxbus up --json` and its environment."""

    proc: subprocess.Popen[str]
    env: dict[str, str]
    ready: dict[str, object]

    def status(self) -> dict[str, object]:
        """`ctxbus status --json`."""
        ran = subprocess.run(
            [sys.executable, "-m", "services.cli", "status", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        answer: dict[str, object] = json.loads(ran.stdout)
        return answer

    def backend_pid(self) -> int | None:
        backend = self.status().get("backend")
        pid = backend.get("pid") if isinstance(backend, dict) else None
        return pid if isinstance(pid, int) else None

    def wait_all_running(self) -> None:
        """Until every supervised component is running and main's standby has started, or raise.

        The standby says nothing on the bus: it has started once its CPU time stops growing
        (imports and the app's startup done, waiting to be promoted). Read earlier, it is a
        python still importing (the start-up bench's "standby 2.4 MB").
        """
        deadline = time.monotonic() + RUNNING_TIMEOUT
        while time.monotonic() < deadline:
            components = self.status().get("components")
            states = {c["component"]: c["state"] for c in components or []}  # type: ignore[attr-defined]  # a JSON list of objects
            standby = self.roles().get(STANDBY)
            if states and set(states.values()) == {"running"} and standby and idle(standby):
                return
            time.sleep(0.5)  # a bench polls; tests wait on bus events
        raise RuntimeError(f"not every component got running: {self.status()}")

    def roles(self) -> dict[str, psutil.Process]:
        """Every process of the tree by role (a process found twice keeps a numbered name)."""
        return name_processes(self.proc.pid, self.backend_pid())


def name_processes(root_pid: int, backend_pid: object) -> dict[str, psutil.Process]:
    root = psutil.Process(root_pid)
    named: dict[str, psutil.Process] = {}
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            name = role(proc, backend_pid)
            if name in named:
                name = f"{name} ({proc.pid})"
            named[name] = proc
    return named


def role(proc: psutil.Process, backend_pid: object) -> str:
    """What a process of the tree is, from its command line."""
    if proc.pid == backend_pid:
        return "backend active"
    cmdline = " ".join(proc.cmdline())
    for module, name in MODULE_ROLES:
        if module in cmdline:
            return name
    return cmdline[:40]


def idle(proc: psutil.Process, window: float = 0.5) -> bool:
    """Whether ``proc`` used (almost) no CPU over ``window`` seconds."""
    with contextlib.suppress(psutil.NoSuchProcess):
        before = sum(proc.cpu_times()[:2])
        time.sleep(window)
        return sum(proc.cpu_times()[:2]) - before < IDLE_CPU * window
    return False


def usage(proc: psutil.Process) -> Usage:
    info = proc.memory_full_info()
    return Usage(proc.pid, info.rss / MB, info.uss / MB)


@contextlib.contextmanager
def private_env(display: str | None = None, **settings: str) -> Iterator[dict[str, str]]:
    """The environment of a `ctxbus up` with its own runtime, data, log and config dirs."""
    root = Path(tempfile.mkdtemp(prefix="cbmem-", dir="/tmp"))
    root.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTXBUS_")}
    if display is not None:
        env["DISPLAY"] = display
    env.update(
        PYTHONPATH=str(REPO),
        CTXBUS_RUNTIME_DIR=str(root),
        CTXBUS_LOG_DIR=str(root / "log"),
        CTXBUS_DATA_DIR=str(root / "data"),
        CTXBUS_FRONTEND_PORT="0",
        XDG_CONFIG_HOME=str(root / "config"),
        **settings,
    )
    try:
        yield env
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_up(env: dict[str, str], json_mode: bool = True) -> Iterator[Runtime]:
    """`ctxbus up --json` (or as people run it) past its ready line; Ctrl-C at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", *(["--json"] if json_mode else [])],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if json_mode:
            ready = json.loads(line or "{}")
        else:  # "ctxbus is up: <url>  (Ctrl-C to stop)"
            ready = {"ctxbus": "ready" if line.startswith("ctxbus is up") else line}
        if ready.get("ctxbus") != "ready":
            raise RuntimeError(f"ctxbus up did not get ready: {ready}")
        runtime = Runtime(proc, env, ready)
        runtime.wait_all_running()
        yield runtime
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
