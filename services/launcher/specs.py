"""What the launcher starts: main, the frontend and (when installed) capture, from the config."""

from __future__ import annotations

import importlib.util
import os
import sys

from services.foundation.config import Config
from services.foundation.supervision import ChildSpec
from services.launcher.component import ComponentSettings
from services.launcher.protocol import CAPTURE, FRONTEND, MAIN

CAPTURE_MODULE = "services.capture"


def child_env(config: Config) -> dict[str, str]:
    """The launcher's environment plus the effective configuration, for every child."""
    env = dict(os.environ)
    env.update(config.to_env())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def main_argv(config: Config) -> tuple[str, ...]:
    argv = [
        sys.executable,
        "-m",
        "services.main",
        "--runtime-dir",
        str(config.runtime_dir),
        "--data-dir",
        str(config.data_dir),
        "--log-dir",
        str(config.log_dir),
    ]
    if config.sources.get("main.port", "default") != "default":
        argv += ["--port", str(config.main_port)]  # a configured port is pinned
    if not config.main_standby:
        argv.append("--no-standby")
    return tuple(argv)


def capture_installed() -> bool:
    return importlib.util.find_spec(CAPTURE_MODULE) is not None


def component_settings(config: Config) -> list[ComponentSettings]:
    """main first, then the frontend, then capture if its package exists."""
    env = child_env(config)

    def spec(name: str, argv: tuple[str, ...]) -> ChildSpec:
        return ChildSpec(name=name, argv=argv, env=env, log_dir=config.log_dir, lifeline=True)

    found = [
        ComponentSettings(spec(MAIN, main_argv(config))),
        ComponentSettings(spec(FRONTEND, (sys.executable, "-m", "frontend", "--announce"))),
    ]
    if capture_installed():
        argv = (sys.executable, "-m", CAPTURE_MODULE)
        # Capture is not needed for the dashboard; on a small machine its imports would compete
        # with main and the backend for the CPU, so it starts once the app is ready.
        found.append(
            ComponentSettings(spec(CAPTURE, argv), running_on_spawn=True, after_ready=True)
        )
    return found
