"""main's first milliseconds: bind the backend's port and start the first backend at once.

The backend's own start-up is the longest step before ``ctxbus up`` is ready, so its start comes
before main's heavy imports (asyncio, zmq, structlog, the supervision machinery), which then
overlap with it. :func:`claim` makes the checks of main's ordinary start, in its order (the log
dir, the runtime dir, the instance lock, no process of a crashed main on record, the port) with
nothing beyond msgspec and tomllib (the configuration) and the standard library, and starts the
backend.

It runs in one of two places:

- ``ctxbus up``: in main's own process before its exec (:class:`Handover`, the launcher spawns
  main with it), so the backend starts without waiting for main's interpreter and
  configuration. What it claimed crosses the exec as descriptors, with a record of which is which
  in a pipe (:class:`HandoverRecord`); main adopts them in :func:`start_early`. The backend is
  main's child from its start, as if main had spawned it.
- ``python -m services.main`` on its own: :func:`start_early`, first thing.

Anything unusual, and it starts nothing: main's ordinary start meets the problem and reports it
as it always has (a bad configuration: one line, exit 78, no backend). Otherwise main adopts what
was started (:class:`EarlyStart`): the held lock, the bound socket and the backend, which is
supervised from then on like any other (restarts and the standby are unchanged). The backend dies
with main from its first instruction (its parent-death signal is set before its own imports), so
a main that dies during its imports leaves no orphan.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from bus import Endpoints, SetupError, ensure_runtime_dir
from bus import endpoints as names
from services.foundation.private_dirs import PRIVATE_UMASK, ensure_private_dir
from services.foundation.supervision.lock import InstanceLock
from services.foundation.supervision.record_file import nothing_on_record
from services.foundation.supervision.spawn import EarlyChild, InheritedProcess
from services.main.args import config_from, parser
from services.main.backend_launch import (
    BackendPipes,
    EarlyBackend,
    backend_config,
    backend_spec,
    spawn_backend_early,
)
from services.main.port import bind_backend_socket
from services.main.settings import MainSettings

TOKEN_BYTES = 32  # the backend's bearer token: as secrets.token_urlsafe(32), without hashlib
# "<record's read end>,<lock>,<socket>,<backend's output>,<its ready pipe>,<its control pipe>"
HANDOVER_ENV = "CTXBUS_MAIN_HANDOVER"
SLOTS = 5  # the descriptors a handover keeps across main's exec, in the order above
RECORD_MAX = 4096  # one write below PIPE_BUF: the record is whole or absent


class EarlyStart(msgspec.Struct):
    """What main claimed and started before its event loop, for :class:`MainService` to adopt."""

    settings: MainSettings
    lock: InstanceLock  # held
    sock: socket.socket  # the backend's port, bound and listening
    token: str
    instance: str
    backend: EarlyBackend
    handed_over: bool = False  # claimed in main's process before its exec (Handover)

    def abandon(self) -> None:
        """main cannot run after all: end the backend (nothing once it was adopted)."""
        self.backend.abandon()


def start_early(argv: Sequence[str] | None = None) -> EarlyStart | None:
    """What was claimed and started for this main before its exec (``ctxbus up``), or now;
    None if anything is off.

    A usage error or ``--help`` ends the process here, as it would in main's ordinary start.
    """
    args = parser().parse_args(argv)
    handover = os.environ.pop(HANDOVER_ENV, None)  # our children never see it
    try:
        settings = MainSettings.from_config(config_from(args), args.backend_app)
    except SetupError:  # a ConfigError: main's ordinary start reports it (exit 78)
        settings = None
    if handover is not None:
        received = _received(handover, settings)
        if received is not None or settings is None:
            return received
    return None if settings is None else claim(settings)


def claim(settings: MainSettings) -> EarlyStart | None:
    """Claim the runtime dir and the port and start the first backend; None if anything is off."""
    os.umask(PRIVATE_UMASK)  # what main's logging set-up would set before any of this
    try:
        ensure_private_dir(settings.log_dir, "the log dir", "")  # as main's logging set-up will
        ensure_runtime_dir(settings.runtime_dir)
        bus = Endpoints.from_env(settings.runtime_dir)
        lock = InstanceLock(bus.file(names.MAIN_LOCK), "ctxbus main")
        lock.acquire()
    except (SetupError, OSError):  # the ordinary start meets it too, and says so
        return None
    try:
        return _start(settings, lock, bus.file(names.MAIN_RECORDS))
    except (SetupError, OSError):
        lock.release()
        return None


def _start(settings: MainSettings, lock: InstanceLock, records: Path) -> EarlyStart | None:
    if not nothing_on_record(records):
        lock.release()
        return None  # a crashed main's processes: the ordinary start ends them first
    sock = bind_backend_socket(names.LOOPBACK_HOST, settings.port, pinned=settings.port_pinned)
    try:
        token = base64.urlsafe_b64encode(os.urandom(TOKEN_BYTES)).rstrip(b"=").decode()
        instance = uuid.uuid4().hex[:16]  # as bus.publisher.new_instance_id
        config = backend_config(
            settings, port=sock.getsockname()[1], token=token, instance=instance, role="active"
        )
        backend = spawn_backend_early(
            config, sock, python=settings.python, log_dir=settings.log_dir
        )
    except BaseException:
        sock.close()
        raise
    return EarlyStart(settings, lock, sock, token, instance, backend)


class HandoverRecord(msgspec.Struct, frozen=True):
    """What :class:`Handover` claimed, for main after its exec (the descriptors are its slots)."""

    backend_pid: int
    spawned_at: float  # wall-clock time of the backend's spawn
    token: str
    instance: str


class Handover:
    """main's early start, made in main's process between the launcher's fork and main's exec.

    The launcher spawns main with it (``spawn_early``'s ``before_exec``): :meth:`prepare` opens,
    in the launcher, a pipe for the record and placeholder descriptors that main's exec keeps;
    the call, in main's forked process, runs :func:`claim` and moves what it claimed onto the
    placeholders; :meth:`close` closes the launcher's copies. Whatever fails, main starts as it
    would on its own.
    """

    def __init__(self, settings: MainSettings) -> None:
        self.settings = settings
        self._slots: tuple[int, ...] = ()
        self._record: tuple[int, int] | None = None

    def prepare(self) -> tuple[Mapping[str, str], tuple[int, ...]]:
        self._record = os.pipe()
        self._slots = tuple(os.open(os.devnull, os.O_RDONLY) for _ in range(SLOTS))
        fds = (self._record[0], *self._slots)
        return {HANDOVER_ENV: ",".join(map(str, fds))}, fds

    def __call__(self) -> None:
        """In main's process, before its exec: never raises (it would fail main's spawn)."""
        try:
            early = claim(self.settings)
        except BaseException:  # noqa: BLE001 - main's own start meets it and reports it
            return
        if early is None or self._record is None:
            return
        try:
            backend = early.backend
            output = backend.child.process.stdout
            lock = early.lock.fileno
            assert output is not None  # spawn_early always pipes it
            assert lock is not None  # claimed: held
            claimed = (
                lock,
                early.sock.fileno(),
                output.fileno(),
                backend.pipes.ready,
                backend.pipes.control,
            )
            for fd, slot in zip(claimed, self._slots, strict=True):
                os.dup2(fd, slot)
            record = HandoverRecord(
                backend.child.pid, backend.child.spawned_at, early.token, early.instance
            )
            os.write(self._record[1], msgspec.json.encode(record))
        except BaseException:  # noqa: BLE001 - as above; the backend must not outlive this
            early.abandon()

    def close(self) -> None:
        """In the launcher, after the spawn: its copies go (main's exec kept its own)."""
        for fd in (*(self._record or ()), *self._slots):
            os.close(fd)
        self._record, self._slots = None, ()


def _received(handover: str, settings: MainSettings | None) -> EarlyStart | None:
    """What :class:`Handover` claimed before our exec (``handover``: :data:`HANDOVER_ENV`).

    None if it claimed nothing (its placeholders are closed); with no ``settings`` (a
    configuration main cannot load) what it claimed is given up.
    """
    record_fd, *slots = (int(fd) for fd in handover.split(","))
    try:
        data = os.read(record_fd, RECORD_MAX)
    finally:
        os.close(record_fd)
    if not data or settings is None:
        for fd in slots:
            os.close(fd)  # a backend among them ends when its pipes close (main is gone)
        return None
    record = msgspec.json.decode(data, type=HandoverRecord)
    lock_fd, sock_fd, output, ready, control = slots
    bus = Endpoints.from_env(settings.runtime_dir)
    spec = backend_spec(python=settings.python, log_dir=settings.log_dir)
    process = InheritedProcess(record.backend_pid, output)
    backend = EarlyBackend(
        EarlyChild(spec, process, None, record.spawned_at), "active", BackendPipes(ready, control)
    )
    return EarlyStart(
        settings,
        InstanceLock.inherited(bus.file(names.MAIN_LOCK), "ctxbus main", lock_fd),
        socket.socket(fileno=sock_fd),
        record.token,
        record.instance,
        backend,
        handed_over=True,
    )
