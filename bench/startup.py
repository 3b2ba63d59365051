"""Start-up: `ctxbus up` until its ready line, against the floor measured in the same run.

The floor is what any FastAPI app pays: a fresh ``python`` that imports fastapi and uvicorn and
serves one ``GET /health`` (on a socket the bench bound, so the request waits in the backlog and
no polling is needed). ``ctxbus up`` is timed from spawn to its ``ready`` line: main, the backend,
the frontend (and capture) all started and the dashboard serving. Also printed: each process's
resident memory once ready.

Goals: up/floor <= 1.5; main <= 30 MB RSS.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

RUNS = 5
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
RATIO_GOAL = 1.5
MAIN_RSS_GOAL_MB = 30.0
REPO = Path(__file__).resolve().parents[1]

FLOOR_APP = """
import socket, sys
import fastapi, uvicorn
app = fastapi.FastAPI()
@app.get("/health")
async def health():
    return {"status": "ok"}
sock = socket.socket(fileno=int(sys.argv[1]))
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
"""


def floor_once() -> float:
    """Seconds from spawning the floor app to the answer of its first /health."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", FLOOR_APP, str(listener.fileno())],
        pass_fds=(listener.fileno(),),
    )
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=READY_TIMEOUT)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed
    finally:
        proc.terminate()
        proc.wait(STOP_TIMEOUT)
        listener.close()


@contextmanager
def private_dirs() -> Iterator[dict[str, str]]:
    root = Path(tempfile.mkdtemp(prefix="cbb-", dir="/tmp"))
    root.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTXBUS_")}
    env.update(
        PYTHONPATH=str(REPO),
        CTXBUS_RUNTIME_DIR=str(root),
        CTXBUS_LOG_DIR=str(root / "log"),
        CTXBUS_DATA_DIR=str(root / "data"),
        CTXBUS_FRONTEND_PORT="0",
        XDG_CONFIG_HOME=str(root / "config"),
    )
    try:
        yield env
    finally:
        shutil.rmtree(root, ignore_errors=True)


def role(proc: psutil.Process, backend_pid: object) -> str:
    """What a process of the tree is, from its command line."""
    cmdline = " ".join(proc.cmdline())
    if proc.pid == backend_pid:
        return "backend (serving)"
    for module, name in (
        ("services.main", "main"),
        ("-m backend", "backend standby"),
        ("-m frontend", "frontend"),
        ("services.capture", "capture"),
        ("services.cli", "launcher"),
    ):
        if module in cmdline:
            return name
    return cmdline[:40]


def rss_by_role(ready: dict[str, object], launcher: int) -> dict[str, float]:
    """Resident MB of every process of the tree once ready (capture starts after ready)."""
    pids = ready.get("pids")
    backend_pid = pids.get("backend") if isinstance(pids, dict) else None
    root = psutil.Process(launcher)
    found: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            found[role(proc, backend_pid)] = proc.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    return found


def up_once() -> tuple[float, dict[str, float]]:
    """Seconds from spawning `ctxbus up` to its ready line, and the RSS of its processes."""
    with private_dirs() as env:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            elapsed = time.perf_counter() - started
            if ready.get("ctxbus") != "ready":
                raise RuntimeError(f"ctxbus up did not get ready: {ready}")
            return elapsed, rss_by_role(ready, proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(STOP_TIMEOUT)


def compile_packages() -> None:
    """Byte-compile ctxbus's own packages, as an install would (site-packages already is):
    with PYTHONDONTWRITEBYTECODE set, every start would otherwise compile them again."""
    for package in ("bus", "services", "frontend", "backend"):
        compileall.compile_dir(REPO / package, quiet=1)


def main() -> None:
    compile_packages()
    floors: list[float] = []
    ups: list[float] = []
    memory: dict[str, float] = {}
    for _ in range(RUNS):  # interleaved: both see the same machine load
        floors.append(floor_once())
        elapsed, memory = up_once()
        ups.append(elapsed)
    floor, up = statistics.median(floors), statistics.median(ups)
    ratio = up / floor
    print(f"floor (python + fastapi/uvicorn import + one /health): median {floor * 1000:.0f} ms")
    print(f"ctxbus up until ready:                                 median {up * 1000:.0f} ms")
    verdict = "ok" if ratio <= RATIO_GOAL else "over goal"
    print(f"ratio up/floor: {ratio:.2f} (goal <= {RATIO_GOAL}: {verdict})")
    print("resident memory once ready (last run):")
    for name, mb in sorted(memory.items()):
        print(f"  {name:<20} {mb:6.1f} MB")
    main_mb = memory.get("main", float("nan"))
    verdict = "ok" if main_mb <= MAIN_RSS_GOAL_MB else "over goal"
    print(f"main RSS {main_mb:.1f} MB (goal <= {MAIN_RSS_GOAL_MB:g} MB: {verdict})")


if __name__ == "__main__":
    main()
