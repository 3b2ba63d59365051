"""The command line read before the CLI's imports, so that ``ctxbus up`` starts main at once.

Only ``up`` does anything early: the launcher starts main (:mod:`services.launcher.early`), whose
process starts the backend before its exec (:class:`services.main.early.Handover`: the launcher
may not import main, the CLI above both joins them). A usage error or ``--help``
ends the process here, as it would after the imports. A configuration that cannot be loaded
starts nothing: :mod:`.entry` loads it again and reports it (exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import msgspec

from bus import Endpoints, SetupError
from services.cli.parser import build_parser, config_flags
from services.foundation.config import load_config
from services.launcher.early import EarlyLaunch, start_main_early
from services.main.early import Handover
from services.main.settings import MainSettings


class Parsed(msgspec.Struct, frozen=True):
    """The command line, and for ``ctxbus up`` the main it started (if it could)."""

    args: argparse.Namespace
    launch: EarlyLaunch | None = None


def parse_early(argv: Sequence[str] | None = None) -> Parsed:
    """Parse ``argv``; for ``up``, load the configuration and start main."""
    args = build_parser().parse_args(argv)
    if args.command != "up":
        return Parsed(args)
    try:
        config = load_config(getattr(args, "config", None), flags=config_flags(args))
        bus = Endpoints.from_env(config.runtime_dir)
    except SetupError:
        return Parsed(args)
    handover = Handover(MainSettings.from_config(config))
    return Parsed(args, start_main_early(config, bus, handover))
