"""Where `ctxbus up`'s start-up time goes: a timeline from the log files, and import costs.

Every process logs its start-up milestones (``imports_done`` right after its imports, then its
own events: ``main_ready``, ``child_started``, ``app_built``, ``serving`` ...). Their timestamps,
against the moment the bench spawned `ctxbus up`, give one timeline of the whole tree.
``import_costs`` runs ``python -X importtime`` on a process's imports and sums the time by
top-level package.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSOLE_LINE = re.compile(r"^(?P<ts>\S+Z) \[\s*\w+\s*\] (?P<event>\S+)\s.*?\bpid=(?P<pid>\d+)")
IMPORT_LINE = re.compile(r"^import time:\s*(?P<self>\d+) \|\s*\d+ \|(?P<name>\s*\S+)")
IMPORT_RUNS = 3  # the fastest of these is reported: the machine is shared


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # wall-clock seconds
    pid: int
    name: str
    fields: dict[str, object]


@dataclass(frozen=True, slots=True)
class Mark:
    at: float  # seconds since `ctxbus up` was spawned
    process: str
    milestone: str
    since_spawn: float | None  # seconds since this process was spawned
    key: str = ""  # the event's name (``spawned``, ``ready`` for the bench's own)


def _wall(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _parse(line: str) -> Event | None:
    """One log line, JSON (``<service>.log``) or console (the backend's ``.output.log``)."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
            return Event(_wall(record["timestamp"]), int(record["pid"]), record["event"], record)
        except (ValueError, KeyError):
            return None
    match = CONSOLE_LINE.match(line)
    if match is None:
        return None
    return Event(_wall(match["ts"]), int(match["pid"]), match["event"], {})


def read_events(log_dir: Path) -> list[Event]:
    """Every parsable event of the run's logs (the backend logs to stderr: its output log)."""
    found: list[Event] = []
    for path in [*log_dir.glob("*.log"), log_dir / "backend.output.log"]:
        if path.name.endswith(".output.log") and path.name != "backend.output.log":
            continue  # the same events as <service>.log, as console lines
        if path.exists():
            found += [e for line in path.read_text().splitlines() if (e := _parse(line))]
    return sorted(found, key=lambda e: e.at)


# (process role, event, label): the first such event of that process is the milestone.
MILESTONES = (
    ("launcher", "imports_done", "imports done, configuration loaded"),
    ("main", "imports_done", "imports done, configuration loaded"),
    ("main", "main_ready", "bus bound (its port was bound before the backend's spawn)"),
    ("backend", "imports_done", "imports done (server, uvicorn)"),
    ("backend", "app_built", "app imported and built"),
    ("backend", "serving", "startup and warm-up done, accepting"),
    ("main", "backend_running", "backend running (ready + /health), published"),
    ("frontend", "imports_done", "imports done, configuration loaded"),
    ("frontend", "backend_found", "main answered get_port"),
    ("frontend", "serving", "dashboard serving, URL announced"),
    ("standby", "imports_done", "imports done (server, uvicorn)"),
    ("standby", "standby_serving", "standby serving"),
)


def _roles(events: list[Event], launcher_pid: int) -> dict[int, tuple[str, float]]:
    """pid → (role, spawn wall time), from the parents' ``child_started`` events."""
    roles: dict[int, tuple[str, float]] = {}
    backends = 0
    for event in events:
        if event.name != "child_started":
            continue
        child, pid = str(event.fields.get("child")), int(str(event.fields.get("child_pid")))
        if child == "backend":
            child = "backend" if backends == 0 else "standby"
            backends += 1
        # A child started before its parent's logging (Child.adopt) says when it really was.
        spawned = event.fields.get("spawned_at", event.at)
        roles.setdefault(
            pid, (child, float(spawned) if isinstance(spawned, int | float) else event.at)
        )
    return roles | {launcher_pid: ("launcher", 0.0)}


def _spawn_marks(roles: dict[int, tuple[str, float]], spawned: float) -> list[Mark]:
    names = ("main", "frontend", "backend", "standby")
    return [
        Mark(at - spawned, role, "spawned", 0.0, "spawned")
        for role, at in roles.values()
        if role in names
    ]


def timeline(log_dir: Path, launcher_pid: int, spawned: float, ready: float) -> list[Mark]:
    """The milestones of one run, in order; ``spawned``/``ready``: wall times of the bench."""
    events = read_events(log_dir)
    roles = _roles(events, launcher_pid)
    spawn_of = {role: at if role != "launcher" else spawned for role, at in roles.values()}
    marks = [*_spawn_marks(roles, spawned), Mark(0.0, "launcher", "spawned", 0.0, "spawned")]
    seen: set[tuple[str, str]] = set()
    for event in events:
        role = roles.get(event.pid, ("", 0.0))[0]
        name = event.name
        if name == "backend_state" and event.fields.get("state") == "running":
            name = "backend_running"
        for wanted_role, wanted, label in MILESTONES:
            if (role, name) == (wanted_role, wanted) and (role, name) not in seen:
                seen.add((role, name))
                since = event.at - spawn_of[role]
                marks.append(Mark(event.at - spawned, role, label, since, name))
    marks.append(Mark(ready - spawned, "launcher", "ready line printed", ready - spawned, "ready"))
    return sorted(marks, key=lambda m: m.at)


# The serial chain to the ready line: (from, to, what happens in between).
CRITICAL_PATH = (
    (
        ("launcher", "spawned"),
        ("main", "spawned"),
        "launcher: interpreter, command line, configuration, lock",
    ),
    (
        ("main", "spawned"),
        ("backend", "spawned"),
        "main's process before its exec (the launcher's fork): lock, port",
    ),
    (("backend", "spawned"), ("backend", "serving"), "backend: imports, app, startup, warm-up"),
    (
        ("backend", "serving"),
        ("launcher", "ready"),
        "then: ready pipe, /health, event, and the frontend if it serves later",
    ),
)


def critical_path(marks: list[Mark]) -> list[tuple[str, float]]:
    """Each step of the serial chain and its seconds (a step whose marks are missing: NaN)."""
    at = {(m.process, m.key): m.at for m in marks}
    nan = float("nan")
    return [(what, at.get(end, nan) - at.get(start, nan)) for start, end, what in CRITICAL_PATH]


def import_costs(args: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """``python -X importtime <args>``: seconds of imports in all, and by top-level package
    (the fastest of a few runs)."""
    best: tuple[float, list[tuple[str, float]]] | None = None
    for _ in range(IMPORT_RUNS):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        by_package: collections.Counter[str] = collections.Counter()
        for line in result.stderr.splitlines():
            match = IMPORT_LINE.match(line)
            if match is not None:
                by_package[match["name"].strip().split(".")[0]] += int(match["self"])
        total = sum(by_package.values()) / 1e6
        if best is None or total < best[0]:
            best = (total, [(name, us / 1e6) for name, us in by_package.most_common()])
    assert best is not None
    return best
