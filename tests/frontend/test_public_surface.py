"""The public names of the frontend, the launcher and the CLI packages."""

from __future__ import annotations

import frontend
import services.cli
import services.launcher


def test_frontend_surface() -> None:
    """frontend re-exports exactly its public names, each of them importable."""
    assert sorted(frontend.__all__) == [
        "AppParts",
        "EventHub",
        "Frontend",
        "FrontendSettings",
        "GateMiddleware",
        "TokenGate",
        "create_app",
        "run_frontend",
    ]
    assert all(hasattr(frontend, name) for name in frontend.__all__)


def test_launcher_and_cli_surface() -> None:
    """services.launcher and services.cli expose their entry points."""
    assert sorted(services.launcher.__all__) == ["Launcher", "launch", "run_launcher"]
    assert services.cli.__all__ == ["main"]
    assert callable(services.cli.main)
