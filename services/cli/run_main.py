"""``ctxbus main``: main alone, in the foreground, with the layered configuration."""

from __future__ import annotations

from services.foundation.config import Config


def run_main(config: Config) -> int:
    """Run main until SIGINT/SIGTERM or ``shutdown``; its exit status."""
    # Imported here: the other tools should not pay for main's imports.
    from services.main.cli import run
    from services.main.settings import MainSettings

    return run(MainSettings.from_config(config))
