"""Command line of main alone (``python -m services.main``, ``ctxbus main``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
import zmq.asyncio

from bus import BusError, SetupError, endpoints
from services.foundation.exits import EXIT_CONFIG
from services.foundation.logconfig import configure_logging
from services.main.service import MainService
from services.main.settings import MainSettings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ctxbus main", description="Run main and its backend.")
    p.add_argument("--port", type=int, help="pin the backend's port (fail if it is taken)")
    p.add_argument("--no-standby", action="store_true", help="no warm standby (saves memory)")
    p.add_argument("--runtime-dir", type=Path, help="where the bus sockets live")
    p.add_argument("--data-dir", type=Path, help="where the backend keeps its data")
    p.add_argument("--log-dir", type=Path, help="where log files go")
    p.add_argument("--backend-app", help=argparse.SUPPRESS)  # module:factory, for tests
    return p


def settings_from_args(args: argparse.Namespace, base: MainSettings | None = None) -> MainSettings:
    """``base`` (default: built-in defaults) overridden by the flags given."""
    settings = base or MainSettings()
    changes: dict[str, object] = {}
    if args.port is not None:
        changes.update(port=args.port, port_pinned=True)
    if args.no_standby:
        changes["standby"] = False
    for name in ("runtime_dir", "data_dir", "log_dir", "backend_app"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def run(settings: MainSettings) -> int:
    """Run main until it is stopped; the process exit status."""
    configure_logging("main", settings.log_dir)
    try:
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
    return run(settings_from_args(parser().parse_args(argv)))
