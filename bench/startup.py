"""Start-up: `ctxbus up` until its ready line, against the floor measured in the same run.

The floor is what any FastAPI app pays: a fresh ``python`` that imports fastapi and uvicorn and
serves one ``GET /health`` (on a socket the bench bound, so the request waits in the backlog and
no polling is needed). ``ctxbus up`` is timed from spawn to its ``ready`` line: main, the backend,
the frontend (and capture) all started and the dashboard serving. Also printed: each process's
resident memory once ready, and where the time goes: the timeline of the median run (every
process's start-up milestones from the log files, :mod:`bench._timeline`) and each process's
imports by package (``python -X importtime``). All of it is written to ``docs/benchmarks.md``.

Goals: up/floor <= 1.5; main <= 30 MB RSS.
"""

from __future__ import annotations

import compileall
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench._report import write_section
from bench._timeline import IMPORT_RUNS, Mark, critical_path, import_costs, timeline
from bench._tree import name_processes, private_env
from services.foundation.backend_contract import BackendConfig

RUNS = 5
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0
RATIO_GOAL = 1.5
MAIN_RSS_GOAL_MB = 30.0
REPO = Path(__file__).resolve().parents[1]
HEADING = "## Start-up"
# `ctxbus up`'s imports in their order: what starts main, then structlog lean, then the rest.
LAUNCHER_IMPORTS = (
    "import services.cli.early; from services.foundation.lean import lean_structlog; "
    "lean_structlog(); import services.cli.entry, services.launcher.run"
)
# What each process imports before it can do its work (`--help` exits right after them).
IMPORTS = {
    "floor": ["-c", "import fastapi, uvicorn"],
    "launcher (before main)": ["-c", "import services.cli.early"],
    "launcher": ["-c", LAUNCHER_IMPORTS],
    "main (its arguments and configuration)": [
        "-c",
        "import services.main.__main__, services.main.early",
    ],
    "main": ["-c", "import services.main.__main__, services.main.early, services.main.cli"],
    "backend": ["-c", "import backend.__main__, backend.app"],
    "frontend": ["-m", "frontend", "--help"],
}
TOP_PACKAGES = 6
# What the launcher imports before it spawns main, whose process spawns the backend before its
# exec: parse the command line, read the configuration (msgspec, tomllib), spawn.
EARLY_PROCESS = "import argparse, msgspec, tomllib, subprocess"

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


def served_once(
    argv: list[str], listener: socket.socket, env: dict[str, str] | None, *, quiet: bool = False
) -> float:
    """Seconds from spawning ``argv`` (handed ``listener``) to the answer of its first /health.

    The socket is bound and listening before the spawn, so the request waits in the backlog
    until the process accepts: no polling.
    """
    port = listener.getsockname()[1]
    started = time.perf_counter()
    stderr = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(argv, pass_fds=(listener.fileno(),), env=env, stderr=stderr)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=READY_TIMEOUT)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed
    finally:
        proc.terminate()
        proc.wait(STOP_TIMEOUT)


def early_process_once() -> float:
    """Seconds for a python that only imports what reading the configuration and spawning
    need, then exits: the least the launcher can take before it starts the backend (through
    main's process, before main's exec)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", EARLY_PROCESS], check=True)
    return time.perf_counter() - started


def loopback_listener() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


def floor_once() -> float:
    """Seconds from spawning the floor app to the answer of its first /health."""
    with loopback_listener() as listener:
        argv = [sys.executable, "-c", FLOOR_APP, str(listener.fileno())]
        return served_once(argv, listener, None)


def backend_once() -> float:
    """The same for ``python -m backend`` alone (as main spawns it, without main): the part of
    start-up that is the backend's own, whatever starts it."""
    with private_env() as env, loopback_listener() as listener:
        data_dir = Path(env["CTXBUS_DATA_DIR"])
        data_dir.mkdir(mode=0o700)
        config = BackendConfig(
            port=listener.getsockname()[1],
            token="bench",
            instance="bench-startup",
            data_dir=data_dir,
            log_dir=Path(env["CTXBUS_LOG_DIR"]),
            listen_fd=listener.fileno(),
        )
        argv = [sys.executable, "-m", "backend"]
        return served_once(argv, listener, env | config.to_env(), quiet=True)  # its log lines


def usage_by_role(
    ready: dict[str, object], launcher: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Resident MB and CPU ms (user and system) of every process of the tree once ready
    (capture starts after ready)."""
    pids = ready.get("pids")
    backend_pid = pids.get("backend") if isinstance(pids, dict) else None
    memory: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for name, proc in name_processes(launcher, backend_pid).items():
        try:
            with proc.oneshot():
                memory[name] = proc.memory_info().rss / 2**20
                times = proc.cpu_times()
                cpu[name] = (times.user + times.system) * 1000
        except psutil.NoSuchProcess:
            continue
    return memory, cpu


@dataclass(frozen=True, slots=True)
class Run:
    elapsed: float  # seconds from spawning `ctxbus up` to its ready line
    memory: dict[str, float]  # resident MB by role once ready
    cpu: dict[str, float]  # CPU ms (user and system) by role until ready
    marks: list[Mark]


def up_once() -> Run:
    """One `ctxbus up` until its ready line: the time, the RSS of its processes, the timeline."""
    with private_env() as env:
        spawned = time.time()
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
            memory, cpu = usage_by_role(ready, proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(STOP_TIMEOUT)
        log_dir = Path(env["CTXBUS_LOG_DIR"])
        marks = timeline(log_dir, proc.pid, spawned, spawned + elapsed)
        return Run(elapsed, memory, cpu, marks)


def compile_packages() -> None:
    """Byte-compile ctxbus's own packages, as an install would (site-packages already is):
    with PYTHONDONTWRITEBYTECODE set, every start would otherwise compile them again."""
    for package in ("bus", "services", "frontend", "backend"):
        compileall.compile_dir(REPO / package, quiet=1)


def timeline_lines(marks: list[Mark]) -> list[str]:
    lines = [
        "| ms since `ctxbus up` | process | milestone | ms since its spawn |",
        "|---:|---|---|---:|",
    ]
    for mark in marks:
        own = "" if mark.since_spawn is None else f"{mark.since_spawn * 1000:.0f}"
        lines.append(f"| {mark.at * 1000:.0f} | {mark.process} | {mark.milestone} | {own} |")
    return lines


def path_lines(runs: list[Run]) -> list[str]:
    """The serial chain, each step's median over the runs."""
    steps = [critical_path(run.marks) for run in runs]
    lines = ["| step of the serial chain | median ms |", "|---|---:|"]
    for i, (what, _) in enumerate(steps[0]):
        lines.append(f"| {what} | {ms(statistics.median(s[i][1] for s in steps))} |")
    return lines


def import_lines() -> list[str]:
    lines = ["| process | imports (ms) | largest, by top-level package (ms) |", "|---|---:|---|"]
    for name, args in IMPORTS.items():
        total, packages = import_costs(args)
        top = ", ".join(f"{pkg} {sec * 1000:.0f}" for pkg, sec in packages[:TOP_PACKAGES])
        lines.append(f"| {name} | {total * 1000:.0f} | {top} |")
    return lines


@dataclass(frozen=True, slots=True)
class Samples:
    floors: list[float]
    backends: list[float]  # python -m backend alone
    early_processes: list[float]  # python importing argparse, msgspec, tomllib, subprocess
    runs: list[Run]

    @property
    def ups(self) -> list[float]:
        return [run.elapsed for run in self.runs]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def summary_lines(samples: Samples) -> list[str]:
    floor, up = statistics.median(samples.floors), statistics.median(samples.ups)
    backend = statistics.median(samples.backends)
    early = statistics.median(samples.early_processes)
    least = early + backend
    ratio = up / floor
    verdict = "ok" if ratio <= RATIO_GOAL else "over goal"
    memory = samples.runs[-1].memory
    main_mb = memory.get("main", float("nan"))
    main_verdict = "ok" if main_mb <= MAIN_RSS_GOAL_MB else "over goal"
    return [
        f"- floor (python + fastapi/uvicorn import + one /health): median {ms(floor)} ms "
        f"(runs: {', '.join(map(ms, samples.floors))})",
        f"- `python -m backend` alone, spawn to its first /health: median {ms(backend)} ms "
        f"({backend / floor:.2f}x the floor; runs: {', '.join(map(ms, samples.backends))})",
        f"- `ctxbus up` until its ready line: median {ms(up)} ms "
        f"(runs: {', '.join(map(ms, samples.ups))})",
        f"- ratio up/floor: **{ratio:.2f}** (goal <= {RATIO_GOAL}: {verdict})",
        f"- least the serial chain can take (the launcher as a bare python importing argparse, "
        f"msgspec, tomllib and subprocess, what it needs before main's process starts the "
        f"backend, {ms(early)} ms, then the backend alone): {ms(least)} ms, "
        f"{least / floor:.2f}x the floor",
        cpu_line(samples.runs, floor),
        f"- main RSS {main_mb:.1f} MB (goal <= {MAIN_RSS_GOAL_MB:g} MB: {main_verdict})",
        "- resident memory once ready (last run): "
        + ", ".join(f"{name} {mb:.1f} MB" for name, mb in sorted(memory.items())),
    ]


def cpu_line(runs: list[Run], floor: float) -> str:
    """The CPU every process used until the ready line (medians by role), and the least time
    that much work takes on this machine's cores with nothing serial."""
    roles = sorted({name for run in runs for name in run.cpu}, key=lambda n: -runs[0].cpu.get(n, 0))
    medians = {name: statistics.median(run.cpu.get(name, 0.0) for run in runs) for name in roles}
    total = statistics.mean(sum(run.cpu.values()) for run in runs)
    cores = os.cpu_count() or 1
    least = total / cores / 1000
    return (
        "- CPU until the ready line (medians; user and system, the kernel's 10 ms ticks): "
        + ", ".join(f"{name} {value:.0f} ms" for name, value in medians.items() if value)
        + f"; {total:.0f} ms in all (mean), at least {least * 1000:.0f} ms on {cores} cores "
        f"even with nothing in series: {least / floor:.2f}x the floor"
    )


NOTES = (
    "Where the time goes beyond the floor: two Python processes in series. The launcher "
    "(`services.cli.early`, `services.launcher.early`) parses its command line, loads the "
    "configuration (msgspec, tomllib), takes its lock and spawns main; main's process, forked "
    "and not yet exec'd (`services.main.early.Handover`, subprocess's preexec_fn), takes main's"
    " lock, binds the backend's port and spawns the backend, then execs main, which adopts what"
    " crossed the exec (descriptors, and a record of them in a pipe). Only then do the launcher"
    " and main import asyncio, zmq, structlog and the rest of `bus/`, beside the backend's "
    "start. (Before, main claimed and spawned in its own interpreter, after its own start and "
    "configuration: 55-65 ms more in series, 1.97-1.99x at feec0c3.) The backend's own start is"
    " the rest of the chain, and most of it: the floor's imports, its own modules (the routes, "
    "whose parameters and response models FastAPI turns into 47 pydantic TypeAdapters, about 15"
    " ms, and their models), structlog, the database's open and the start-up sweep, then one "
    "in-process request through the API (the warm-up). Ready means the API answers: the backend"
    " reports ready only once its FastAPI app is built and warmed. (Answering `/health` before "
    "importing FastAPI and building the API on the first request measured 0.4-0.6x the floor "
    "for the backend alone, but it makes the ready line say nothing about when the API can "
    "answer: not kept.) The frontend is spawned once the launcher's imports are done and serves"
    " before the backend does. Less work in all: no process collects garbage until it is ready "
    "(`services.foundation.gc_pause`: 58 passes, ~6 ms, in the launcher's and main's imports "
    "alone); records are msgspec Structs, not dataclasses (a frozen slotted dataclass costs "
    "0.36 ms to create, its methods compiled from generated source, a Struct 0.01 ms: ours had "
    "cost ~13 ms of each of the launcher's, main's and the backend's imports); the launcher and"
    " main start without psutil (5 ms each), reading a child's record from `/proc`. Two bounds,"
    " each measured in every run (the rows above): the serial chain's least, and the CPU all "
    "processes use until the ready line, divided by the cores (what the run would take with "
    "nothing in series and the cores never idle). The CPU bound binds: with the backend alone "
    "on one core and the other processes on the other (`sched_setaffinity`, 9 runs) the ready "
    "line came later (403-444 ms against 362-453 ms), because the launcher's, main's and the "
    "frontend's own starts are also on the way to the ready line; and starting the backend "
    "earlier does not help: measured and not kept (2026-11-30, `ctxbus up` to ready, medians of"
    " 6 runs in 3 rounds, each interleaved with the kept arrangement, load ~1), main's process "
    "forked before the launcher reads its command line and the backend spawned at 25 ms, its "
    "contract (port, pipes, token) sent later over a Unix socket: 380, 417 and 355 ms against "
    "378, 392 and 359 ms; the backend was then ready 30 ms earlier and the frontend, starting "
    "later on the shared cores, was last. Where that CPU goes: each of the launcher, main and "
    "the frontend starts an interpreter and imports asyncio, zmq, structlog, msgspec and `bus/`"
    " on its own (about 50 ms of CPU each), and the backend's own modules and logging cost it "
    "about 45 ms over the floor's app. Measured and not kept either (`ctxbus up` to ready, "
    "medians of 10 runs interleaved with the chosen order, load 3-7): the frontend's priority "
    "lowered (nice 10 for its process and its autogroup: every child has an autogroup of its "
    "own, a session each, and an unprivileged launcher cannot raise it back once started) 700 "
    "and 1247 ms against 530 and 703 ms; the frontend spawned with main, before the launcher's "
    "imports, 762 and 712 ms against 737 and 592 ms (and again this session, 2 rounds of 8 runs"
    " each: 345-406 ms against 301-389 ms). Not done: main as the launcher's fork without an "
    "exec (it would save main's interpreter and configuration, about 50 ms of CPU), because "
    "main would then show the launcher's command line and environment, which `ps`, the process "
    "records and the rule that settings reach children by their environment rely on. The warm "
    "standby is spawned once the first backend serves, after main's `running` event. The "
    "figures swing with the load of this shared machine: compare within one run."
)


def tree_state() -> str:
    """The commit measured (``-dirty``: with uncommitted changes)."""
    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    return result.stdout.strip() or "no git"


def section(samples: Samples, imports: list[str]) -> str:
    median_run = sorted(samples.runs, key=lambda r: r.elapsed)[len(samples.runs) // 2]
    return "\n".join(
        [
            HEADING,
            "",
            f"`python -m bench startup` at {tree_state()}, {len(samples.runs)} runs, each "
            f"interleaved with the floor and the backend alone, {time.strftime('%Y-%m-%d')}, "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end.",
            "",
            *summary_lines(samples),
            "",
            "Where it goes: the chain launcher → main's process before its exec → backend is "
            "serial (main owns the port and is the backend's parent), each starting the next "
            "before its heavy imports; the frontend, spawned once the launcher's imports are "
            "done, is off it (its serving counts in the last step when it comes after the "
            "backend's).",
            "",
            *path_lines(samples.runs),
            "",
            NOTES,
            "",
            f"Timeline of the median run ({ms(median_run.elapsed)} ms), from each process's log "
            "events (``imports_done`` is logged right after a process's imports and its "
            "configuration; spawn times are the parent's ``child_started``):",
            "",
            *timeline_lines(median_run.marks),
            "",
            "Imports of each process alone (`python -X importtime`, the fastest of "
            f"{IMPORT_RUNS} runs; self time summed by top-level package):",
            "",
            *imports,
        ]
    )


def main() -> None:
    compile_packages()
    samples = Samples([], [], [], [])
    for _ in range(RUNS):  # interleaved: all see the same machine load
        samples.floors.append(floor_once())
        samples.backends.append(backend_once())
        samples.early_processes.append(early_process_once())
        samples.runs.append(up_once())
    text = section(samples, import_lines())
    print(text)
    write_section(HEADING, text)


if __name__ == "__main__":
    main()
