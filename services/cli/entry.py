"""``ctxbus``'s argument parsing and dispatch; :func:`main` is the console script."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from bus import Endpoints, SetupError, curve
from bus import endpoints as names
from services.cli import commands
from services.cli.context import Context
from services.cli.logs import TAIL_LINES, cmd_logs
from services.cli.run_main import run_main
from services.cli.search import DEFAULT_LIMIT, cmd_search, limit_arg
from services.foundation.config import load_config
from services.foundation.terminal import Output

DESCRIPTION = (
    "Start ctxbus (`ctxbus up`) and watch or steer it over its bus. "
    "Exit codes: 0 ok; 1 main (or the component asked) is not running, or it answered with an "
    "error; 2 usage or configuration error."
)
CONFIG_FLAGS = {
    "port": "main.port",
    "standby": "main.standby",
    "frontend_port": "frontend.port",
    "capture_interval": "capture.interval",
    "data_dir": "data_dir",
    "log_dir": "log_dir",
}


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: after the subcommand as well as before it, without overwriting the top level.
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON output"
    )
    common.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS, help="a TOML configuration file"
    )
    return common


def _config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="the backend's port (main.port)")
    parser.add_argument(
        "--standby",
        action=argparse.BooleanOptionalAction,
        help="keep a warm standby backend (main.standby)",
    )
    parser.add_argument("--frontend-port", type=int, help="the dashboard's port (frontend.port)")
    parser.add_argument(
        "--capture-interval", type=float, help="seconds between grabs (capture.interval)"
    )
    parser.add_argument("--data-dir", type=Path, help="the backend's data (data_dir)")
    parser.add_argument("--log-dir", type=Path, help="log files (log_dir)")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="ctxbus", description=DESCRIPTION, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    up = sub.add_parser("up", parents=[common], help="start everything and print the URL")
    up.add_argument("--open", action="store_true", help="open the dashboard in a browser")
    _config_flags(up)
    run_main = sub.add_parser("main", parents=[common], help="run main (and its backend) alone")
    _config_flags(run_main)
    status = sub.add_parser("status", parents=[common], help="every component's state")
    status.add_argument("--follow", "-f", action="store_true", help="stay live")
    sub.add_parser("port", parents=[common], help="the backend's base URL")
    for verb in commands.BACKEND_OPS:
        verb_parser = sub.add_parser(verb, parents=[common], help=f"{verb} the backend")
        verb_parser.add_argument("target", choices=["backend"])
    sub.add_parser("down", parents=[common], help="stop everything")
    logs = sub.add_parser("logs", parents=[common], help="show log files")
    logs.add_argument("component", nargs="?", help="main, backend, frontend, capture, launcher")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=TAIL_LINES, help="lines per file")
    config = sub.add_parser("config", parents=[common], help="the effective configuration")
    _config_flags(config)
    search = sub.add_parser("search", parents=[common], help="find captures by the text on them")
    search.add_argument("query", help='words (all must match), "a phrase", a prefix: conf*')
    search.add_argument("--app", help="only this application's captures")
    search.add_argument(
        "--limit", type=limit_arg, default=DEFAULT_LIMIT, help="hits to show (1-100)"
    )
    capture = sub.add_parser("capture", parents=[common], help="control screen capture")
    capture.add_argument("verb", choices=["now", *commands.CAPTURE_STATE_OPS])
    return parser


def _flags(args: argparse.Namespace) -> dict[str, object]:
    return {key: getattr(args, attr, None) for attr, key in CONFIG_FLAGS.items()}


def dispatch(ctx: Context, args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "up":
        from services.launcher import run_launcher  # here: only `up` pays for its imports

        return run_launcher(ctx.config, ctx.endpoints, ctx.out, args.open)
    if command == "main":
        return run_main(ctx.config)
    if command == "status" and args.follow:
        from services.cli.follow import follow_status  # here: it draws with rich on import

        return asyncio.run(follow_status(ctx))
    if command == "status":
        return commands.cmd_status(ctx)
    if command == "port":
        return commands.cmd_port(ctx)
    if command in commands.BACKEND_OPS:
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


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ctxbus`` console script; returns the exit status."""
    curve.set_client_role(names.COMPONENT_CLI)  # its own bus key pair (tcp mode)
    args = build_parser().parse_args(argv)
    # Not set_defaults: the shared parent's actions would take those defaults (see _common).
    out = Output(getattr(args, "json", False))
    try:
        config = load_config(getattr(args, "config", None), flags=_flags(args))
        endpoints = Endpoints.from_env(config.runtime_dir)
    except SetupError as exc:
        out.error(str(exc))
        return 2
    try:
        return dispatch(Context(config, endpoints, out), args)
    except KeyboardInterrupt:
        return 130
