"""What the launcher starts: main, the frontend and (when installed) capture and the indexer."""

from __future__ import annotations

import importlib.util
import os
import sys

from bus import endpoints
from services.foundation.config import Config
from services.foundation.dashboard import SECRET_ENV, new_secret
from services.foundation.supervision import ChildSpec
from services.launcher.component import ComponentSettings

CAPTURE_MODULE = "services.capture"
INDEXER_MODULE = "services.indexer"


def child_env(config: Config) -> dict[str, str]:
    """The launcher's environment plus its configuration (``CTXBUS_*``), for every child.

    The environment is the only channel: a child loads the same layered configuration from it
    (``load_config``), so no setting is passed as a flag.
    """
    env = dict(os.environ)
    env.update(config.to_env())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def module_argv(module: str, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module, *args)


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def capture_installed() -> bool:
    return installed(CAPTURE_MODULE)


def component_settings(config: Config) -> list[ComponentSettings]:
    """main first, then the frontend, then capture and the indexer if their packages exist."""
    env = child_env(config)
    env.pop(SECRET_ENV, None)  # only the frontend gets this run's secret

    def spec(name: str, argv: tuple[str, ...], extra: dict[str, str] | None = None) -> ChildSpec:
        return ChildSpec(
            name=name, argv=argv, env=env | (extra or {}), log_dir=config.log_dir, lifeline=True
        )

    found = [
        ComponentSettings(spec(endpoints.COMPONENT_MAIN, module_argv("services.main"))),
        ComponentSettings(
            spec(  # the dashboard's sessions last one run: a fresh secret for each
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
                spec(endpoints.COMPONENT_CAPTURE, argv), running_on_spawn=True, after_ready=True
            )
        )
    if installed(INDEXER_MODULE):
        # The indexer yields to everything (nice 19): it starts once the app is ready, too.
        found.append(
            ComponentSettings(
                spec(endpoints.COMPONENT_INDEXER, module_argv(INDEXER_MODULE)),
                running_on_spawn=True,
                after_ready=True,
            )
        )
    return found
