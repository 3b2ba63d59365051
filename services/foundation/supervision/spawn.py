"""How a child process is started: its spec, its lifeline, and a spawn that needs no event loop.

Kept free of asyncio, structlog and psutil on purpose: a supervisor whose first child is on the
start-up critical path (main's first backend, the launcher's main) starts it with
:func:`spawn_early` before its own heavy imports, then supervises it with
:meth:`~services.foundation.supervision.child.Child.adopt` exactly like a process it spawned from
its event loop (:meth:`~services.foundation.supervision.child.Child.spawn`): the same session,
descriptors, environment, lifeline, output log and stop order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol

import msgspec

LIFELINE_FD_ENV = "CTXBUS_LIFELINE_FD"
SUPERVISOR_PID_ENV = "CTXBUS_SUPERVISOR_PID"


class ChildSpec(msgspec.Struct, frozen=True):
    """How to start one process."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = msgspec.field(default_factory=dict)
    log_dir: Path | None = None
    pass_fds: tuple[int, ...] = ()
    lifeline: bool = False  # pass a pipe whose end tells the child we are gone (see lifeline.py)


class Launch(msgspec.Struct, frozen=True):
    """What :func:`launch_args` adds to a spec: the env and fds to pass, our lifeline end."""

    env: dict[str, str]
    pass_fds: tuple[int, ...]
    lifeline: tuple[int, int] | None  # (the child's read end, our write end)

    def spawned(self) -> int | None:
        """The child has its end now (or failed to start): close ours of its read end."""
        if self.lifeline is None:
            return None
        os.close(self.lifeline[0])
        return self.lifeline[1]

    def failed(self) -> None:
        """The spawn failed: close our end of the lifeline too."""
        if self.lifeline is not None:
            os.close(self.lifeline[1])


def launch_args(spec: ChildSpec) -> Launch:
    """The environment and descriptors of ``spec``, with a fresh lifeline pipe if it asks one."""
    env = dict(spec.env)
    if not spec.lifeline:
        return Launch(env, spec.pass_fds, None)
    lifeline = os.pipe()
    env[LIFELINE_FD_ENV] = str(lifeline[0])
    env[SUPERVISOR_PID_ENV] = str(os.getpid())
    return Launch(env, (*spec.pass_fds, lifeline[0]), lifeline)


class EarlyProcess(Protocol):
    """What :class:`EarlyChild` and its adoption use of a process: a ``Popen``'s subset."""

    @property
    def pid(self) -> int: ...

    @property
    def stdout(self) -> IO[bytes] | None: ...

    def wait(self) -> int: ...

    def kill(self) -> None: ...


class InheritedProcess:
    """A child this process's image inherited across its exec, by pid and its output's read end.

    It is our child (its parent is this pid), but no ``Popen`` of ours started it: a process
    forked it before exec'ing us (:class:`BeforeExec`). Waiting reaps it with ``waitpid``.
    """

    def __init__(self, pid: int, stdout: int) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = open(stdout, "rb", buffering=0)  # noqa: SIM115 - ours
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)


class BeforeExec(Protocol):
    """Work a child does between its fork and its exec (``Popen``'s ``preexec_fn``).

    :func:`spawn_early` calls :meth:`prepare` before the spawn (the environment and descriptors
    the child's exec keeps for it), the object itself in the child, and :meth:`close` after.
    It runs in a forked copy of a single-threaded process: it must never raise.
    """

    def prepare(self) -> tuple[Mapping[str, str], tuple[int, ...]]: ...

    def __call__(self) -> None: ...

    def close(self) -> None: ...


class EarlyChild(msgspec.Struct):
    """A process started before the event loop; :meth:`Child.adopt` takes it over."""

    spec: ChildSpec
    process: EarlyProcess
    lifeline: int | None  # our end of its lifeline
    spawned_at: float  # wall-clock time of the spawn (the log line comes later)
    adopted: bool = False  # a Child supervises it now

    @property
    def pid(self) -> int:
        return self.process.pid

    def abandon(self) -> None:
        """Nobody will supervise it (the supervisor cannot start): kill its group and reap it.

        Nothing once it was adopted: its :class:`Child` stops it.
        """
        if self.adopted:
            return
        self.adopted = True  # nobody else will
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.lifeline is not None:
            os.close(self.lifeline)
            self.lifeline = None


def spawn_early(spec: ChildSpec, before_exec: BeforeExec | None = None) -> EarlyChild:
    """Start ``spec`` now, in a new session, as :meth:`Child.spawn` would (no event loop needed).

    ``before_exec``: work the child does before its exec, with what it keeps across it.
    """
    launch = launch_args(spec)
    env, pass_fds = launch.env, launch.pass_fds
    spawned_at = time.time()
    try:
        if before_exec is not None:
            extra_env, extra_fds = before_exec.prepare()
            env, pass_fds = env | dict(extra_env), (*pass_fds, *extra_fds)
        process = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=before_exec,  # the callers spawn before any thread starts
        )
    except BaseException:
        launch.spawned()
        launch.failed()
        raise
    finally:
        if before_exec is not None:
            before_exec.close()
    return EarlyChild(spec, process, launch.spawned(), spawned_at)
