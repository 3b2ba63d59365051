"""``ctxbus up``'s first milliseconds: start main before the CLI's and the launcher's imports.

main, then its backend, is the serial chain to the ready line, so the launcher starts main as soon
as it knows its configuration, before importing asyncio, zmq and its own machinery, which then
overlap with main's start; main's process starts the backend before its exec (the
``before_exec`` that :mod:`services.cli.early` hands in: :class:`services.main.early.Handover`).
:func:`start_main_early` makes the checks of the launcher's ordinary start that must come before
main's spawn (the runtime dir, the log dir, the instance lock, no process of a crashed launcher on
record) with the standard library and what the configuration needs.

Anything unusual, and it starts nothing: it returns None, and the ordinary start meets the problem
and reports it as it always has. Over tcp it never starts main early: this run's CURVE keys
(zmq) must exist before main starts. Otherwise the launcher adopts main (:class:`EarlyLaunch`) as
its first run of the ``main`` component; main dies with the launcher from its start (its lifeline
pipe and, through main, its backend's parent-death signal).
"""

from __future__ import annotations

import os
import sys

import msgspec

from bus import Endpoints, SetupError, ensure_runtime_dir
from bus import endpoints as names
from services.foundation.config import Config
from services.foundation.dashboard import SECRET_ENV
from services.foundation.private_dirs import PRIVATE_UMASK, ensure_private_dir
from services.foundation.supervision.lock import InstanceLock
from services.foundation.supervision.record_file import nothing_on_record
from services.foundation.supervision.spawn import BeforeExec, ChildSpec, EarlyChild, spawn_early

MAIN_MODULE = "services.main"


def child_env(config: Config) -> dict[str, str]:
    """The launcher's environment plus its configuration (``CTXBUS_*``), for every child.

    The environment is the only channel: a child loads the same layered configuration from it
    (``load_config``), so no setting is passed as a flag.
    """
    env = dict(os.environ)
    env.update(config.to_env())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def module_argv(module: str, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module, *args)


def component_spec(
    config: Config, name: str, argv: tuple[str, ...], extra: dict[str, str] | None = None
) -> ChildSpec:
    """How the launcher starts the component ``name``: with a lifeline, its output in the log dir.

    Only the frontend gets this run's dashboard secret (in ``extra``), never an inherited one.
    """
    env = child_env(config)
    env.pop(SECRET_ENV, None)
    return ChildSpec(
        name=name, argv=argv, env=env | (extra or {}), log_dir=config.log_dir, lifeline=True
    )


def main_spec(config: Config) -> ChildSpec:
    return component_spec(config, names.COMPONENT_MAIN, module_argv(MAIN_MODULE))


class EarlyLaunch(msgspec.Struct):
    """What the launcher claimed and started before its event loop, for :class:`Launcher`."""

    config: Config
    bus: Endpoints
    lock: InstanceLock  # held
    main: EarlyChild

    def abandon(self) -> None:
        """The launcher cannot run after all: kill main (nothing once it was adopted)."""
        self.main.abandon()


def start_main_early(
    config: Config, bus: Endpoints, before_exec: BeforeExec | None = None
) -> EarlyLaunch | None:
    """Claim the runtime dir and start main; None if anything is off (the ordinary start tells).

    ``before_exec``: main's own early start, made in main's process before its exec (the
    launcher does not know main: :mod:`services.cli.early` hands it in).
    """
    if bus.transport == "tcp":
        return None  # this run's CURVE keys first (Launcher.run)
    os.umask(PRIVATE_UMASK)  # what the launcher's logging set-up would set before the spawn
    try:
        ensure_runtime_dir(config.runtime_dir)
        ensure_private_dir(config.log_dir, "the log dir", "")  # as its logging set-up will
        lock = InstanceLock(bus.file(names.LAUNCHER_LOCK), "ctxbus launcher")
        lock.acquire()
    except (SetupError, OSError):  # the ordinary start meets it too, and says so
        return None
    try:
        if nothing_on_record(bus.file(names.LAUNCHER_RECORDS)):
            main = spawn_early(main_spec(config), before_exec)
            return EarlyLaunch(config, bus, lock, main)
    except OSError:
        pass  # it cannot start: the ordinary start tries again and reports why
    lock.release()
    return None
