"""Command line of the indexer process: the layered configuration, flags on top, into settings.

The process lowers its own CPU priority first (nice 19): it must never compete with the user.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from bus import BusError, Endpoints, SetupError, curve, endpoints
from services.foundation.config import Config, ConfigError, load_config
from services.foundation.exits import EXIT_CONFIG
from services.foundation.logconfig import configure_logging
from services.foundation.supervision.lifeline import install_from_env
from services.indexer.service import IndexerService
from services.indexer.settings import IndexerSettings

log = structlog.get_logger("indexer")

NICENESS = 19  # the lowest CPU priority
INDEXER_FLAGS = ("enabled", "languages")  # flags for the [indexer] keys
DIR_FLAGS = ("runtime_dir", "data_dir", "log_dir")


def parser() -> argparse.ArgumentParser:
    """Flags for manual runs; the launcher passes none (the configuration is in the environment)."""
    p = argparse.ArgumentParser(prog="python -m services.indexer", description=__doc__)
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--runtime-dir", help="where the bus sockets live")
    p.add_argument("--enabled", help="on/off: read the text of captures")
    p.add_argument("--languages", help="tesseract languages joined by + (eng+chi_sim)")
    p.add_argument("--data-dir", help="the data dir (unused by the indexer itself)")
    p.add_argument("--log-dir", help="where the log file goes")
    return p


def config_from(args: argparse.Namespace) -> Config:
    """The layered configuration with the flags given as its top layer."""
    flags = {f"indexer.{name}": getattr(args, name) for name in INDEXER_FLAGS}
    flags.update({name: getattr(args, name) for name in DIR_FLAGS})
    return load_config(args.config, flags=flags)


async def serve(settings: IndexerSettings, bus: Endpoints) -> None:
    """Run the indexer until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    install_from_env(on_parent_gone=stop.set)  # end with the launcher that started us
    service = asyncio.create_task(IndexerService(settings, bus).run())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({service, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    service.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await service


def main(argv: Sequence[str] | None = None) -> int:
    """Run the indexer process; its exit status (78: fix the configuration or set-up)."""
    curve.set_client_role(endpoints.COMPONENT_INDEXER)  # its own bus key pair (tcp mode)
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ConfigError as exc:
        print(f"indexer: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = IndexerSettings.from_config(config)
    configure_logging("indexer", settings.log_dir)
    os.nice(NICENESS - os.nice(0))  # tesseract, its child, inherits it
    try:
        asyncio.run(serve(settings, Endpoints.from_env(config.runtime_dir)))
    except BusError as exc:
        log.error("cannot_start", error=str(exc))  # noqa: TRY400 - the message is the whole story
        print(f"indexer: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, SetupError) else 1
    return 0
