"""Command line of the capture process: the layered configuration, flags on top, into settings."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from bus import BusError, Endpoints, SetupError, curve, endpoints
from services.capture.service import CaptureService
from services.capture.settings import CaptureSettings
from services.foundation.config import Config, ConfigError, load_config
from services.foundation.exits import EXIT_CONFIG
from services.foundation.logconfig import configure_logging
from services.foundation.supervision.lifeline import install_from_env

log = structlog.get_logger("capture")

# flags for the [capture] keys (``--max-dimension`` → ``capture.max_dimension``), then the dirs
CAPTURE_FLAGS = (
    "interval", "format", "quality", "method", "lossless", "max_dimension", "threshold",
    "spool_max_bytes", "spool_max_age", "settle", "idle_after",
)  # fmt: skip
DIR_FLAGS = ("runtime_dir", "data_dir", "log_dir")


def parser() -> argparse.ArgumentParser:
    """Flags for manual runs; the launcher passes none (the configuration is in the environment).

    Values are checked by the configuration, as the same keys from the file or the environment.
    """
    p = argparse.ArgumentParser(prog="python -m services.capture", description=__doc__)
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--runtime-dir", help="where the bus sockets live")
    p.add_argument("--interval", help="seconds between grabs (0.2 to 3600)")
    p.add_argument("--format", help="image format of kept frames: webp, png, jpeg")
    p.add_argument("--quality", help="encoder quality, 1-100")
    p.add_argument("--method", help="WebP effort, 0 (fast) to 6 (small)")
    p.add_argument("--lossless", action="store_true", default=None, help="lossless WebP")
    p.add_argument("--max-dimension", help="shrink frames to fit this many pixels")
    p.add_argument("--threshold", help="share of the screen that must change, 0-1")
    p.add_argument("--spool-max-bytes", help="spool size limit in bytes")
    p.add_argument("--spool-max-age", help="spool age limit in seconds")
    p.add_argument("--settle", help="seconds a new active window stays before a grab (0.1-60)")
    p.add_argument("--idle-after", help="seconds without input before capture pauses (1-3600)")
    p.add_argument("--display", help="X display to grab (default: $DISPLAY)")
    p.add_argument("--data-dir", help="where the spool lives")
    p.add_argument("--log-dir", help="where the log file goes")
    return p


def config_from(args: argparse.Namespace) -> Config:
    """The layered configuration with the flags given as its top layer."""
    flags = {f"capture.{name}": getattr(args, name) for name in CAPTURE_FLAGS}
    flags.update({name: getattr(args, name) for name in DIR_FLAGS})
    return load_config(args.config, flags=flags)


async def serve(settings: CaptureSettings, bus: Endpoints) -> None:
    """Run the capture service until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    install_from_env(on_parent_gone=stop.set)  # end with the launcher that started us
    service = asyncio.create_task(CaptureService(settings, bus).run())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({service, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    service.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await service


def main(argv: Sequence[str] | None = None) -> int:
    """Run the capture process; its exit status (78: fix the configuration or set-up)."""
    curve.set_client_role(endpoints.COMPONENT_CAPTURE)  # its own bus key pair (tcp mode)
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ConfigError as exc:
        print(f"capture: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = CaptureSettings.from_config(config, args.display)
    try:
        configure_logging("capture", settings.log_dir)  # a log dir others may write: SetupError
        asyncio.run(serve(settings, Endpoints.from_env(config.runtime_dir)))
    except BusError as exc:
        log.error("cannot_start", error=str(exc))  # noqa: TRY400 - the message is the whole story
        print(f"capture: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, SetupError) else 1
    return 0
