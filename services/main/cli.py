"""Command line of main alone (``python -m services.main``, ``ctxbus main``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import structlog
import zmq.asyncio

from bus import BusError, SetupError, curve, endpoints
from services.foundation.config import ConfigError
from services.foundation.exits import EXIT_CONFIG
from services.foundation.logconfig import configure_logging
from services.main.args import config_from, parser
from services.main.early import EarlyStart
from services.main.service import MainService
from services.main.settings import MainSettings

__all__ = ["config_from", "main", "parser", "run"]


def run(settings: MainSettings, early: EarlyStart | None = None) -> int:
    """Run main until it is stopped (adopting what ``early`` started); the exit status."""
    try:
        configure_logging("main", settings.log_dir)  # a log dir others may write: SetupError
        structlog.get_logger("main").info("imports_done")  # a start-up milestone (bench)
        asyncio.run(MainService(settings, early).run())
    except BusError as exc:
        structlog.get_logger("main").error("cannot_start", error=str(exc))
        print(f"ctxbus main: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, SetupError) else 1
    finally:
        if early is not None:
            early.abandon()  # its backend, if main ended before adopting it
        # Flush what is still queued (the reply to ``shutdown``) before the process ends.
        zmq.asyncio.Context.instance().destroy(linger=endpoints.CLOSE_LINGER_MS)
    return 0


def main(argv: Sequence[str] | None = None, early: EarlyStart | None = None) -> int:
    """``python -m services.main``: its exit status (78: fix the configuration or set-up).

    ``early``: what :func:`~services.main.early.start_early` claimed and started from ``argv``.
    """
    curve.set_client_role(endpoints.COMPONENT_MAIN)  # its own bus key pair (tcp mode)
    if early is not None:
        return run(early.settings, early)
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ConfigError as exc:
        print(f"ctxbus main: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return run(MainSettings.from_config(config, args.backend_app))
