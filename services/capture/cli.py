"""Command line of the capture process: the layered configuration, flags on top, into settings."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence

from bus import Endpoints, endpoints
from services.capture.service import CaptureService
from services.capture.settings import CaptureSettings
from services.foundation.allocator import map_big_blocks
from services.foundation.config import Config
from services.foundation.entry import Work, component_parser, config_from, run_component

# flags for the [capture] keys (``--max-dimension`` → ``capture.max_dimension``)
CAPTURE_FLAGS = (
    "interval", "format", "quality", "method", "lossless", "max_dimension", "threshold",
    "spool_max_bytes", "spool_max_age", "settle", "idle_after",
)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    """Flags for manual runs; the launcher passes none (the configuration is in the environment).

    Values are checked by the configuration, as the same keys from the file or the environment.
    """
    p = component_parser("python -m services.capture", __doc__)
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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the capture process; its exit status (78: fix the configuration or set-up)."""
    args = parser().parse_args(argv)
    map_big_blocks()  # before the first frame: see services/foundation/allocator.py

    def work(config: Config) -> Work:
        settings = CaptureSettings.from_config(config, args.display)
        return CaptureService(settings, Endpoints.from_env(config.runtime_dir)).run()

    load = functools.partial(config_from, args, "capture", CAPTURE_FLAGS)
    return run_component(endpoints.COMPONENT_CAPTURE, load, work)
