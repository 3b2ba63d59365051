"""``ctxbus``'s argument parsing and dispatch; :func:`main` is the console script."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from bus import Endpoints, SetupError, curve
from bus import endpoints as names
from services.cli import commands
from services.cli.context import Context
from services.cli.early import Parsed
from services.cli.logs import cmd_logs
from services.cli.parser import BACKEND_OPS, build_parser, config_flags
from services.cli.run_main import run_main
from services.cli.search import cmd_search
from services.foundation.config import load_config
from services.foundation.terminal import Output
from services.launcher.early import EarlyLaunch


def dispatch(ctx: Context, args: argparse.Namespace, launch: EarlyLaunch | None = None) -> int:
    command: str = args.command
    if command == "up":
        from services.launcher import run_launcher  # here: only `up` pays for its imports

        return run_launcher(ctx.config, ctx.endpoints, ctx.out, args.open, launch)
    if command == "main":
        return run_main(ctx.config)
    if command == "status" and args.follow:
        from services.cli.follow import follow_status  # here: it draws with rich on import

        return asyncio.run(follow_status(ctx))
    if command == "status":
        return commands.cmd_status(ctx)
    if command == "port":
        return commands.cmd_port(ctx)
    if command in BACKEND_OPS:
        return commands.cmd_backend(ctx, command)
    if command == "down":
        return commands.cmd_down(ctx)
    if command == "logs":
        return cmd_logs(ctx, args.component, args.follow, args.lines)
    if command == "search":
        return cmd_search(ctx, args.query, args.app, args.limit)
    if command == "config":
        return commands.cmd_config(ctx)
    return commands.cmd_capture(ctx, args.verb)


def main(argv: Sequence[str] | None = None, parsed: Parsed | None = None) -> int:
    """The ``ctxbus`` console script; returns the exit status.

    ``parsed``: ``argv`` already parsed, with the main ``ctxbus up`` started (:mod:`.early`).
    """
    curve.set_client_role(names.COMPONENT_CLI)  # its own bus key pair (tcp mode)
    parsed = parsed or Parsed(build_parser().parse_args(argv))
    args, launch = parsed.args, parsed.launch
    # Not set_defaults: the shared parent's actions would take those defaults (see _common).
    out = Output(getattr(args, "json", False))
    try:
        if launch is not None:
            config, endpoints = launch.config, launch.bus
        else:
            config = load_config(getattr(args, "config", None), flags=config_flags(args))
            endpoints = Endpoints.from_env(config.runtime_dir)
    except SetupError as exc:
        out.error(str(exc))
        return 2
    try:
        return dispatch(Context(config, endpoints, out), args, launch)
    except KeyboardInterrupt:
        return 130
