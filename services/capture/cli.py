"""Command line of the capture process: configuration layers, then flags, into one settings."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from bus import BusError, Endpoints
from services.capture.service import CaptureService
from services.capture.settings import IMAGE_FORMATS, CaptureSettings
from services.foundation.config import Config, ConfigError, load_config
from services.foundation.logconfig import configure_logging
from services.foundation.supervision.lifeline import install_from_env

log = structlog.get_logger("capture")

# flag name → CaptureSettings field, for the flags that map one to one
_FLAGS = (
    "interval", "format", "quality", "method", "max_dimension", "threshold",
    "spool_max_bytes", "spool_max_age", "display", "data_dir", "log_dir",
)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.capture", description=__doc__)
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--runtime-dir", type=Path, help="where the bus sockets live")
    p.add_argument("--interval", type=float, help="seconds between grabs (0.2 to 3600)")
    p.add_argument("--format", choices=IMAGE_FORMATS, help="image format of kept frames")
    p.add_argument("--quality", type=int, help="encoder quality, 1-100")
    p.add_argument("--method", type=int, help="WebP effort, 0 (fast) to 6 (small)")
    p.add_argument("--lossless", action="store_true", help="lossless WebP")
    p.add_argument("--max-dimension", type=int, help="shrink frames to fit this many pixels")
    p.add_argument("--threshold", type=float, help="share of the screen that must change, 0-1")
    p.add_argument("--spool-max-bytes", type=int, help="spool size limit in bytes")
    p.add_argument("--spool-max-age", type=float, help="spool age limit in seconds")
    p.add_argument("--display", help="X display to grab (default: $DISPLAY)")
    p.add_argument("--data-dir", type=Path, help="where the spool lives")
    p.add_argument("--log-dir", type=Path, help="where the log file goes")
    return p


def settings_from(config: Config, args: argparse.Namespace) -> CaptureSettings:
    """The layered configuration's capture keys, overridden by the flags given."""
    values: dict[str, Any] = {
        "interval": config.capture_interval,
        "format": config.capture_format,
        "quality": config.capture_quality,
        "data_dir": config.data_dir,
        "log_dir": config.log_dir,
    }
    values.update({name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None})
    if args.lossless:
        values["lossless"] = True
    return dataclasses.replace(CaptureSettings(), **values)


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
    """Run the capture process; its exit status."""
    args = parser().parse_args(argv)
    try:
        config = load_config(args.config, flags={"runtime_dir": args.runtime_dir})
        settings = settings_from(config, args)
    except (ConfigError, ValueError) as exc:
        print(f"capture: {exc}", file=sys.stderr)
        return 2
    configure_logging("capture", settings.log_dir)
    try:
        asyncio.run(serve(settings, Endpoints.from_env(config.runtime_dir)))
    except BusError as exc:
        log.error("cannot_start", error=str(exc))  # noqa: TRY400 - the message is the whole story
        print(f"capture: {exc}", file=sys.stderr)
        return 1
    return 0
