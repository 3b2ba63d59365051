"""main's first milliseconds: bind the backend's port and start the first backend at once.

The backend's own start-up is the longest step before ``ctxbus up`` is ready, so main starts it
before its heavy imports (asyncio, zmq, structlog, the supervision machinery), which then overlap
with it. :func:`start_early` makes the checks of main's ordinary start, in its order (the
configuration, the log dir, the runtime dir, the instance lock, no process of a crashed main on
record, the port) with nothing beyond msgspec and tomllib (the configuration) and the standard
library.

Anything unusual, and it starts nothing: it returns None, and main's ordinary start meets the
problem and reports it as it always has (a bad configuration: one line, exit 78, no backend).
Otherwise main adopts what it started (:class:`EarlyStart`): the held lock, the bound socket and
the backend, which is supervised from then on like any other (restarts and the standby are
unchanged). The backend dies with main from its first instruction (its parent-death signal is
set before its own imports), so a main that dies during its imports leaves no orphan.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bus import Endpoints, SetupError, ensure_runtime_dir
from bus import endpoints as names
from services.foundation.private_dirs import PRIVATE_UMASK, ensure_private_dir
from services.foundation.supervision.lock import InstanceLock
from services.foundation.supervision.record_file import nothing_on_record
from services.main.args import config_from, parser
from services.main.backend_launch import EarlyBackend, backend_config, spawn_backend_early
from services.main.port import bind_backend_socket
from services.main.settings import MainSettings

TOKEN_BYTES = 32  # the backend's bearer token: as secrets.token_urlsafe(32), without hashlib


@dataclass(slots=True)
class EarlyStart:
    """What main claimed and started before its event loop, for :class:`MainService` to adopt."""

    settings: MainSettings
    lock: InstanceLock  # held
    sock: socket.socket  # the backend's port, bound and listening
    token: str
    instance: str
    backend: EarlyBackend

    def abandon(self) -> None:
        """main cannot run after all: end the backend (nothing once it was adopted)."""
        self.backend.abandon()


def start_early(argv: Sequence[str] | None = None) -> EarlyStart | None:
    """Claim the runtime dir and the port and start the first backend; None if anything is off.

    A usage error or ``--help`` ends the process here, as it would in main's ordinary start.
    """
    args = parser().parse_args(argv)
    try:
        settings = MainSettings.from_config(config_from(args), args.backend_app)
    except SetupError:  # a ConfigError: main's ordinary start reports it (exit 78)
        return None
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
