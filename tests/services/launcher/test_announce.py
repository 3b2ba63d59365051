"""The launcher's ``announce`` op: anyone of the user's processes may call it, so a URL that is
not a loopback URL of a ctxbus component never becomes the ready line's URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bus import ComponentStatus, Endpoints
from services.foundation.config import load_config
from services.foundation.dashboard import dashboard_host
from services.foundation.terminal import Output
from services.launcher.report import Report
from services.launcher.service import Launcher


@pytest.fixture
async def launcher(runtime_dir: Path) -> AsyncIterator[Launcher]:
    """A launcher's state and ops, nothing started."""
    config = load_config(None, env={"CTXBUS_RUNTIME_DIR": str(runtime_dir)})
    made = Launcher(config, Endpoints(runtime_dir), Report(Output(json_mode=True)))
    yield made
    made.control.close()


def frontend(url: str) -> ComponentStatus:
    return ComponentStatus(component="frontend", state="running", pid=1, url=url)


async def test_foreign_url_is_not_announced(launcher: Launcher) -> None:
    """A forged announce with an off-machine URL leaves the launcher without a dashboard URL."""
    await launcher.op_announce(frontend("http://evil.example/?token=stolen"))
    assert launcher.frontend_url is None
    assert not launcher.frontend_ready.is_set()


async def test_dashboard_url_is_announced(launcher: Launcher, runtime_dir: Path) -> None:
    """The frontend's URL on the dashboard's own name is taken."""
    url = f"http://{dashboard_host(Endpoints(runtime_dir))}:1734/?token=t"
    await launcher.op_announce(frontend(url))
    assert launcher.frontend_url == url
    assert launcher.frontend_ready.is_set()
