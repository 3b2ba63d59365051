"""main's command line and the configuration it loads (lean: read before main's heavy imports)."""

from __future__ import annotations

import argparse
from pathlib import Path

from services.foundation.config import Config, load_config


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
