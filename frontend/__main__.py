"""``python -m frontend``: the dashboard process (see :mod:`frontend.service`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from services.foundation import gc_pause
from services.foundation.lean import skip_optional_extras

gc_pause.pause()  # until the dashboard serves and its backend link is open: ~10 ms less
skip_optional_extras()  # before structlog and httpx are imported: 4-5 MB less

import structlog  # noqa: E402 - after skipping the extras, on purpose

from bus import Endpoints, SetupError, curve, ensure_runtime_dir  # noqa: E402
from bus import endpoints as names  # noqa: E402
from frontend.service import run_frontend  # noqa: E402
from frontend.settings import FrontendSettings  # noqa: E402
from services.foundation.config import load_config  # noqa: E402
from services.foundation.exits import EXIT_CONFIG  # noqa: E402
from services.foundation.logconfig import configure_logging  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m frontend", description=__doc__)
    parser.add_argument("--config", type=Path, help="a TOML configuration file")
    parser.add_argument("--port", help="the dashboard's port (frontend.port)")
    parser.add_argument(
        "--announce", action="store_true", help="tell the launcher the URL (set by `ctxbus up`)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the dashboard; its exit status (78: fix the configuration or set-up)."""
    curve.set_client_role(names.COMPONENT_FRONTEND)  # its own bus key pair (tcp mode)
    args = parse_args(argv)
    try:
        config = load_config(args.config, flags={"frontend.port": args.port})
        endpoints = Endpoints.from_env(ensure_runtime_dir(config.runtime_dir))
        configure_logging("frontend", config.log_dir)  # a log dir others may write: SetupError
        structlog.get_logger("frontend").info("imports_done")  # a start-up milestone (bench)
    except SetupError as exc:
        sys.stderr.write(f"frontend: {exc}\n")
        return EXIT_CONFIG  # permanent: the launcher does not restart it
    settings = FrontendSettings.from_config(config, endpoints, announce=args.announce)
    try:
        asyncio.run(run_frontend(settings))
    except TimeoutError:
        sys.stderr.write(
            "frontend: main did not answer; start it with `ctxbus up` or `ctxbus main`\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
