"""``ctxbus up``'s process: logging set up, then the launcher's loop until it is stopped."""

from __future__ import annotations

import asyncio
import logging

import structlog

from bus import Endpoints, SetupError, curve, endpoints, ensure_runtime_dir
from services.foundation.config import Config
from services.foundation.logconfig import configure_logging
from services.foundation.terminal import Output
from services.launcher.early import EarlyLaunch
from services.launcher.report import Report
from services.launcher.service import launch


def quiet_console() -> None:
    """No log lines on the terminal: it gets the URL and :class:`Report`'s lines; the file all."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)


def run_launcher(
    config: Config,
    bus: Endpoints,
    out: Output,
    open_browser: bool,
    early: EarlyLaunch | None = None,
) -> int:
    """``ctxbus up``: run until stopped (adopting the main ``early`` started); the exit status."""
    try:
        return _run(config, bus, out, open_browser, early)
    finally:
        if early is not None:
            early.abandon()  # its main, if the launcher ended before adopting it


def _run(
    config: Config, bus: Endpoints, out: Output, open_browser: bool, early: EarlyLaunch | None
) -> int:
    curve.set_client_role(endpoints.COMPONENT_LAUNCHER)
    try:
        ensure_runtime_dir(config.runtime_dir)
        configure_logging("launcher", config.log_dir)  # a log dir others may write: SetupError
    except SetupError as exc:
        out.error(str(exc))
        return 2
    quiet_console()
    structlog.get_logger("launcher").info("imports_done")  # a start-up milestone (bench)
    try:
        return asyncio.run(launch(config, bus, Report(out), open_browser, early))
    except SetupError as exc:
        out.error(str(exc))
        return 1
