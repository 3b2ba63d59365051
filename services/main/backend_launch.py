"""Starting one backend process: its config, its spec and its two pipes.

Lean on purpose (no asyncio, zmq or structlog): main starts its first backend with
:func:`spawn_backend_early` before its heavy imports (:mod:`services.main.early`), and every later
one through :meth:`~services.main.backend_process.BackendProcess.spawn`; both set it up here, so
each backend gets the same descriptors and environment (the contract in
:mod:`services.foundation.backend_contract`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from services.foundation.backend_contract import BackendConfig, Role
from services.foundation.supervision.spawn import ChildSpec, EarlyChild, spawn_early
from services.main.settings import MainSettings

BACKEND_MODULE = "backend"


def backend_config(
    settings: MainSettings, *, port: int, token: str, instance: str, role: Role
) -> BackendConfig:
    """What main hands a backend of ``role`` (its descriptors are filled in at the spawn)."""
    return BackendConfig(
        port=port,
        token=token,
        instance=instance,
        data_dir=settings.data_dir,
        log_dir=settings.log_dir,
        role=role,
        app=settings.backend_app,
        graceful_timeout=settings.backend_graceful_timeout,
    )


class BackendPipes(msgspec.Struct, frozen=True):
    """main's ends of a backend's pipes."""

    ready: int  # read: ``ready``/``standby``/``pong`` lines
    control: int  # write: ``serve``/``ping`` lines; its end-of-file means main is gone

    def close(self) -> None:
        os.close(self.ready)
        os.close(self.control)


def backend_spec(*, python: str, log_dir: Path) -> ChildSpec:
    """``python -m backend``, as main supervises it (its environment and descriptors apart)."""
    return ChildSpec(name="backend", argv=(python, "-m", BACKEND_MODULE), log_dir=log_dir)


@contextmanager
def backend_launch(
    config: BackendConfig, sock: socket.socket, *, python: str, log_dir: Path
) -> Iterator[tuple[ChildSpec, BackendPipes]]:
    """The spec of ``python -m backend`` with ``config`` (its fds filled in), and our pipe ends.

    Spawn it inside the block: the backend's ends close when the block ends, ours as well if
    the block fails.
    """
    ready_r, ready_w = os.pipe()
    control_r, control_w = os.pipe()
    listen_fd = sock.fileno()
    full = msgspec.structs.replace(
        config, listen_fd=listen_fd, ready_fd=ready_w, control_fd=control_r, parent_pid=os.getpid()
    )
    spec = msgspec.structs.replace(
        backend_spec(python=python, log_dir=log_dir),
        env={**os.environ, **full.to_env(), "PYTHONUNBUFFERED": "1"},
        pass_fds=(listen_fd, ready_w, control_r),
    )
    pipes = BackendPipes(ready_r, control_w)
    try:
        yield spec, pipes
    except BaseException:
        pipes.close()
        raise
    finally:
        os.close(ready_w)
        os.close(control_r)


class EarlyBackend(msgspec.Struct):
    """A backend started before main's event loop; the supervisor adopts it as its first."""

    child: EarlyChild
    role: Role
    pipes: BackendPipes
    adopted: bool = False

    def abandon(self) -> None:
        """Main cannot start after all: kill it and close its pipes (nothing once adopted)."""
        if self.adopted:
            return
        self.adopted = True  # nobody else will
        self.child.abandon()
        self.pipes.close()


def spawn_backend_early(
    config: BackendConfig, sock: socket.socket, *, python: str, log_dir: Path
) -> EarlyBackend:
    """Start ``python -m backend`` now, before any event loop (see :mod:`services.main.early`)."""
    with backend_launch(config, sock, python=python, log_dir=log_dir) as (spec, pipes):
        return EarlyBackend(spawn_early(spec), config.role, pipes)
