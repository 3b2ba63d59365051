"""``ctxbus``'s command line: its flags, its verbs and what each verb sends.

Lean on purpose (argparse, the op catalogue): ``ctxbus up`` parses its command line and starts
main before the CLI's other imports (:mod:`services.cli.early`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bus.ops import CaptureOps, MainOps

BACKEND_OPS = {
    "restart": MainOps.RESTART_BACKEND,
    "stop": MainOps.STOP_BACKEND,
    "start": MainOps.START_BACKEND,
}
CAPTURE_STATE_OPS = {
    "pause": CaptureOps.PAUSE,
    "resume": CaptureOps.RESUME,
    "status": CaptureOps.GET_STATUS,
}
TAIL_LINES = 20  # ``ctxbus logs``: lines per file
DEFAULT_LIMIT = 20  # ``ctxbus search``: hits shown
MAX_LIMIT = 100  # the search API's


def limit_arg(text: str) -> int:
    """``--limit``: a whole number from 1 to :data:`MAX_LIMIT` (argparse type)."""
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return value


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
    for verb in BACKEND_OPS:
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
    capture.add_argument("verb", choices=["now", *CAPTURE_STATE_OPS])
    return parser


def config_flags(args: argparse.Namespace) -> dict[str, object]:
    return {key: getattr(args, attr, None) for attr, key in CONFIG_FLAGS.items()}
