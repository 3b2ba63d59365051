"""What the launcher starts: main, the frontend and (when installed) capture and the indexer."""

from __future__ import annotations

import importlib.util

from bus import endpoints
from services.foundation.config import Config
from services.foundation.dashboard import SECRET_ENV, new_secret
from services.launcher.component import ComponentSettings
from services.launcher.early import component_spec, main_spec, module_argv

CAPTURE_MODULE = "services.capture"
INDEXER_MODULE = "services.indexer"


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def capture_installed() -> bool:
    return installed(CAPTURE_MODULE)


def component_settings(config: Config) -> list[ComponentSettings]:
    """main first, then the frontend, then capture and the indexer if their packages exist."""
    found = [
        ComponentSettings(main_spec(config)),
        ComponentSettings(
            component_spec(  # the dashboard's sessions last one run: a fresh secret for each
                config,
                endpoints.COMPONENT_FRONTEND,
                module_argv("frontend", "--announce"),
                {SECRET_ENV: new_secret()},
            )
        ),
    ]
    if capture_installed():
        argv = module_argv(CAPTURE_MODULE)
        # Capture is not needed for the dashboard; on a small machine its imports would compete
        # with main and the backend for the CPU, so it starts once the app is ready.
        found.append(
            ComponentSettings(
                component_spec(config, endpoints.COMPONENT_CAPTURE, argv),
                running_on_spawn=True,
                after_ready=True,
            )
        )
    if installed(INDEXER_MODULE):
        # The indexer yields to everything (nice 19): it starts once the app is ready, too.
        found.append(
            ComponentSettings(
                component_spec(config, endpoints.COMPONENT_INDEXER, module_argv(INDEXER_MODULE)),
                running_on_spawn=True,
                after_ready=True,
            )
        )
    return found
