"""The entry point of a bus component process (capture, the indexer): one way to start and end.

A component's ``main()`` builds its parser with :func:`component_parser`, then calls
:func:`run_component`, which loads the layered configuration (its flags on top), configures
logging, runs the component until SIGINT, SIGTERM or the end of the launcher that started it, and
maps the outcome to the exit contract (:mod:`.exits`): a configuration or set-up error is 78 with
one line saying what to fix, never a crash the launcher would restart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import sys
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

import structlog

from bus import BusError, SetupError, curve
from services.foundation.config import Config, ConfigError, load_config
from services.foundation.exits import EXIT_CONFIG, EXIT_OK
from services.foundation.logconfig import configure_logging
from services.foundation.supervision.lifeline import install_from_env

DIR_FLAGS = ("runtime_dir", "data_dir", "log_dir")
Work = Coroutine[Any, Any, None]


def component_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """A parser with the flags every component has; the launcher passes none of them."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--runtime-dir", help="where the bus sockets live")
    p.add_argument("--data-dir", help="the data dir")
    p.add_argument("--log-dir", help="where the log file goes")
    return p


def config_from(args: argparse.Namespace, section: str, keys: Iterable[str]) -> Config:
    """The layered configuration with ``--<key>`` flags of ``[section]`` and the dirs on top."""
    flags: dict[str, object] = {f"{section}.{key}": getattr(args, key) for key in keys}
    flags.update({name: getattr(args, name) for name in DIR_FLAGS})
    return load_config(args.config, flags=flags)


async def until_stopped(start: Callable[[], Work]) -> None:
    """Run ``start()`` until SIGINT, SIGTERM or the launcher's end; then cancel it and wait.

    ``start`` is called inside the event loop, so what it builds belongs to that loop.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    install_from_env(on_parent_gone=stop.set)  # end with the launcher that started us
    task = asyncio.create_task(start())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run_component(
    name: str,
    load: Callable[[], Config],
    work: Callable[[Config], Work],
    *,
    prepare: Callable[[Config], None] | None = None,
) -> int:
    """Load the configuration, log, run ``work(config)`` until stopped; the exit status."""
    curve.set_client_role(name)  # its own bus key pair (tcp mode)
    log = structlog.get_logger(name)
    try:
        config = load()
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        configure_logging(name, config.log_dir)  # a log dir others may write: SetupError
        if prepare is not None:
            prepare(config)
        asyncio.run(until_stopped(functools.partial(work, config)))
    except BusError as exc:
        log.error("cannot_start", error=str(exc))  # noqa: TRY400 - the message is the whole story
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, SetupError) else 1
    return EXIT_OK
