"""Command line of the indexer process: the layered configuration, flags on top, into settings.

The process lowers its own CPU priority first (nice 19): it must never compete with the user.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Sequence

from bus import Endpoints, endpoints
from services.foundation.allocator import map_big_blocks
from services.foundation.config import Config
from services.foundation.entry import Work, component_parser, config_from, run_component
from services.indexer.service import IndexerService
from services.indexer.settings import IndexerSettings

NICENESS = 19  # the lowest CPU priority
INDEXER_FLAGS = ("enabled", "languages")  # flags for the [indexer] keys


def parser() -> argparse.ArgumentParser:
    """Flags for manual runs; the launcher passes none (the configuration is in the environment)."""
    p = component_parser("python -m services.indexer", __doc__)
    p.add_argument("--enabled", help="on/off: read the text of captures")
    p.add_argument("--languages", help="tesseract languages joined by + (eng+chi_sim)")
    return p


def lower_priority(_: Config) -> None:
    """nice 19 before any work: tesseract, its child, inherits it."""
    os.nice(NICENESS - os.nice(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the indexer process; its exit status (78: fix the configuration or set-up)."""
    args = parser().parse_args(argv)
    map_big_blocks()  # before the first picture: see services/foundation/allocator.py

    def work(config: Config) -> Work:
        settings = IndexerSettings.from_config(config)
        return IndexerService(settings, Endpoints.from_env(config.runtime_dir)).run()

    load = functools.partial(config_from, args, "indexer", INDEXER_FLAGS)
    return run_component(endpoints.COMPONENT_INDEXER, load, work, prepare=lower_priority)
