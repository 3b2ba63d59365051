"""Command line of main alone (``python -m services.main``, ``ctxbus main``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
import zmq.asyncio

from bus import BusError, SetupError, curve, endpoints
from services.foundation.config import Config, ConfigError, load_config
from services.foundation.exits import EXIT_CONFIG
from services.foundation.logconfig import configure_logging
from services.main.service import MainService
from services.main.settings import MainSettings


def parser() -> argparse.ArgumentParser:
    """Flags for manual runs and tests: the top layer over the ``CTXBUS_*`` environment."""
    p = argparse.ArgumentParser(prog="ctxbus main", description="Run main and its backend.")
    p.add_argument("--config", type=Path, help="a TOML configuration file")
    p.add_argument("--port", help="pin the backend's port (fail if it is taken)")
    p.add_argument(
        "--no-standby",
        dest="standby",
        action="store_const",
        const=False,
        help="no warm standby (saves memory)",
    )
    p.add_argument("--runtime-dir", help="where the bus sockets live")
    p.add_argument("--data-dir", help="where the backend keeps its data")
    p.add_argument("--log-dir", help="where log files go")
    p.add_argument("--backend-app", help=argparse.SUPPRESS)  # module:factory, for tests
    return p


def config_from(args: argparse.Namespace) -> Config:
    """The layered configuration (defaults < file < ``CTXBUS_*`` < these flags)."""
    flags = {
        "main.port": args.port,
        "main.standby": args.standby,
        "runtime_dir": args.runtime_dir,
        "data_dir": args.data_dir,
        "log_dir": args.log_dir,
    }
    return load_config(args.config, flags=flags)


def run(settings: MainSettings) -> int:
    """Run main until it is stopped; the process exit status."""
    try:
        configure_logging("main", settings.log_dir)  # a log dir others may write: SetupError
        structlog.get_logger("main").info("imports_done")  # a start-up milestone (bench)
        asyncio.run(MainService(settings).run())
    except BusError as exc:
        structlog.get_logger("main").error("cannot_start", error=str(exc))
        print(f"ctxbus main: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, SetupError) else 1
    finally:
        # Flush what is still queued (the reply to ``shutdown``) before the process ends.
        zmq.asyncio.Context.instance().destroy(linger=endpoints.CLOSE_LINGER_MS)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m services.main``: its exit status (78: fix the configuration or set-up)."""
    curve.set_client_role(endpoints.COMPONENT_MAIN)  # its own bus key pair (tcp mode)
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ConfigError as exc:
        print(f"ctxbus main: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return run(MainSettings.from_config(config, args.backend_app))
