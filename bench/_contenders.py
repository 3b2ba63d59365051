"""The supervisors ``bench.recovery`` compares, each around the same backend app.

A contender starts in a fresh session under a temp dir of its own, says which process serves
(``serving_pid``) and when it can take the next kill (``ready_for_kill``), and ``stop`` ends it
and every process it started. ctxbus runs ``python -m services.main``; the others run the app
as a plain uvicorn process (``bench._standalone_backend``) that binds the port itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psutil

from bus import BusError, Endpoints, Requester
from bus.endpoints import LOOPBACK_HOST
from bus.ops import MainOps
from services.foundation.backend_contract import HEALTH_PATH
from services.foundation.supervision import RestartPolicy

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
STOP_GRACE = 10.0  # seconds between SIGTERM to a contender and SIGKILL to all it started
QUERY_TIMEOUT = 1.0  # seconds for one look at who serves (a /health or a get_status)
SETTLE = 0.3  # seconds a replacement serves before the next kill (the stream shows it steady)
# main backs off a backend that dies within min_uptime of serving (unstable): wait that out.
CTXBUS_SETTLE = RestartPolicy().min_uptime + 0.2

# A backend's readable log line: "2026-...Z [info ] standby_serving [backend.server] pid=123 ..."
_STANDBY_EVENT = re.compile(rb"\b(standby_serving|promoted)\b.*?\bpid=(\d+)")
_PROMOTED_AT = re.compile(rb"^(\S+Z) \[\w+\s*\] promoted\b", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Site:
    """Where one contender runs: its temp dir (also its backend's data and logs) and port."""

    root: Path
    port: int
    token: str

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def health_url(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}{HEALTH_PATH}"

    def backend_argv(self) -> list[str]:
        """The standalone backend: the same app and config, on a port it binds itself."""
        return [
            PYTHON,
            "-m",
            "bench._standalone_backend",
            *("--port", str(self.port), "--token", self.token),
            *("--data-dir", str(self.data_dir), "--log-dir", str(self.log_dir)),
        ]


class Contender:
    """One supervisor under test; subclasses say how it is started."""

    name = ""
    settle = SETTLE

    def __init__(self, site: Site) -> None:
        self.site = site
        self.process: subprocess.Popen[bytes] | None = None
        self._started: list[psutil.Process] = []

    def command(self) -> list[str]:
        """The supervisor's command line (writing any config file it needs)."""
        raise NotImplementedError

    def start(self) -> None:
        self.site.log_dir.mkdir(parents=True, exist_ok=True)
        self.site.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.site.root / "supervisor.out").open("wb") as out:
            self.process = subprocess.Popen(
                self.command(),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def serving_pid(self) -> int | None:
        """The pid that answers ``/health`` now, if it is one of ours."""
        try:
            response = httpx.get(
                self.site.health_url,
                headers={"Authorization": f"Bearer {self.site.token}"},  # pid needs the token
                timeout=QUERY_TIMEOUT,
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return self._ours(int(response.json()["pid"]))

    def ready_for_kill(self, killed: int | None) -> bool:
        """Serving from a process other than ``killed``."""
        return self.serving_pid() not in (None, killed)

    def stop(self) -> None:
        """SIGTERM the supervisor, then SIGKILL whatever it started that is still there."""
        if self.process is None:
            return
        self._remember_descendants()
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_GRACE)
        for proc in self._started:
            _kill(proc)
        self._kill_group(self.process.pid)
        self.process.kill()
        self.process.wait()
        psutil.wait_procs(self._started, timeout=STOP_GRACE)

    def _ours(self, pid: int) -> int | None:
        self._remember_descendants()
        return pid if any(proc.pid == pid for proc in self._started) else None

    def _remember_descendants(self) -> None:
        if self.process is None:
            return
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        known = {(proc.pid, proc.create_time()) for proc in self._started}
        for child in children:
            try:
                if (child.pid, child.create_time()) not in known:
                    self._started.append(child)
            except psutil.NoSuchProcess:
                continue

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _kill(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.kill()  # psutil checks it is still the same process (pid and create time)


class Ctxbus(Contender):
    """``python -m services.main`` with its warm standby."""

    name = "ctxbus"
    settle = CTXBUS_SETTLE

    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self.runtime_dir = site.root / "rt"
        self._control = Requester(
            Endpoints.from_env(self.runtime_dir).control, timeout=QUERY_TIMEOUT, retries=1
        )

    def command(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "services.main",
            *("--runtime-dir", str(self.runtime_dir), "--port", str(self.site.port)),
            *("--data-dir", str(self.site.data_dir), "--log-dir", str(self.site.log_dir)),
        ]

    def serving_pid(self) -> int | None:
        """The active backend's pid per main's ``get_status``, once it is running."""
        try:
            status = self._control.call(MainOps.GET_STATUS)
        except BusError:
            return None
        if status.state != "running" or status.pid is None:
            return None
        return self._ours(status.pid)

    def ready_for_kill(self, killed: int | None) -> bool:
        """Running from a process other than ``killed``, with a warm standby behind it."""
        pid = self.serving_pid()
        return pid not in (None, killed) and bool(self.warm_standbys() - {pid})

    def promotions(self) -> list[float]:
        """When (Unix time) each standby logged its promotion, in order."""
        stamps = _PROMOTED_AT.findall(self._backend_log())
        return sorted(datetime.fromisoformat(stamp.decode()).timestamp() for stamp in stamps)

    def _backend_log(self) -> bytes:
        try:
            return (self.site.log_dir / "backend.output.log").read_bytes()
        except FileNotFoundError:
            return b""

    def warm_standbys(self) -> set[int]:
        """Live backends that reported ``standby_serving`` and were not promoted since.

        The bus does not tell a warm standby from a starting one, so this reads the backends'
        log lines that main collects.
        """
        waiting: set[int] = set()
        for event, pid in _STANDBY_EVENT.findall(self._backend_log()):
            if event == b"standby_serving":
                waiting.add(int(pid))
            else:
                waiting.discard(int(pid))
        return {pid for pid in waiting if self._ours(pid) is not None}

    def stop(self) -> None:
        self._control.close()
        super().stop()


class NaiveRespawn(Contender):
    """A ``while True: Popen(backend).wait()`` loop."""

    name = "naive respawn loop"

    def command(self) -> list[str]:
        return [PYTHON, "-m", "bench._naive_respawn", *self.site.backend_argv()]


class Supervisord(Contender):
    """``supervisord -n`` with one program and every default (autorestart, startsecs...)."""

    name = "supervisord"

    def command(self) -> list[str]:
        root = self.site.root
        conf = root / "supervisord.conf"
        conf.write_text(
            f"[unix_http_server]\nfile = {root}/supervisor.sock\n\n"
            f"[supervisord]\nlogfile = {root}/supervisord.log\n"
            f"pidfile = {root}/supervisord.pid\nchildlogdir = {self.site.log_dir}\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl = unix://{root}/supervisor.sock\n\n"
            f"[program:backend]\ncommand = {shlex.join(self.site.backend_argv())}\n"
            f"directory = {REPO}\n"
        )
        return [str(BIN / "supervisord"), "-n", "-c", str(conf)]


class Circus(Contender):
    """``circusd`` with one watcher and every default (respawn, check_delay...)."""

    name = "circus"

    def command(self) -> list[str]:
        root = self.site.root
        conf = root / "circus.ini"
        python, *args = self.site.backend_argv()
        conf.write_text(
            f"[circus]\nendpoint = ipc://{root}/circus-control.sock\n"
            f"pubsub_endpoint = ipc://{root}/circus-pubsub.sock\n\n"
            f"[watcher:backend]\ncmd = {python}\nargs = {shlex.join(args)}\n"
            f"working_dir = {REPO}\n"
        )
        return [str(BIN / "circusd"), str(conf)]


CONTENDERS: tuple[type[Contender], ...] = (Ctxbus, NaiveRespawn, Supervisord, Circus)
