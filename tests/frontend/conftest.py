"""A real frontend process next to a real main, found through a stand-in launcher on the bus.

The frontend runs with ``--announce`` and so tells ``Endpoints.launcher`` its URL; the
``FrontendProcess`` fixture binds that endpoint with the production :class:`bus.Replier`, keeps
every announced login URL and answers ``get_components`` with its ``components``, so a test waits
on the announcement instead of reading output.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from bus import Accepted, ComponentStatus, Endpoints, Replier
from bus.messages import ComponentList, NoArgs
from bus.ops import LauncherOps
from services.foundation.supervision import Child, ChildSpec
from tests.fixtures.processes import REPO, MainProcess, running_main

REAL_APP = "backend.app:create_app"
ANNOUNCE_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class FrontendProcess:
    """A running ``python -m frontend`` and the login URLs it announced, oldest first."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.urls: asyncio.Queue[str] = asyncio.Queue()
        self.child: Child | None = None
        self._replier = Replier(endpoints.launcher)
        self.components = ComponentList()  # what its get_components answers
        self._replier.register(LauncherOps.ANNOUNCE, self._on_announce)
        self._replier.register(LauncherOps.GET_COMPONENTS, self._on_get_components)
        self._serving: asyncio.Task[None] | None = None

    async def _on_announce(self, status: ComponentStatus) -> Accepted:
        assert status.url is not None
        self.urls.put_nowait(status.url)
        return Accepted()

    async def _on_get_components(self, _: NoArgs) -> ComponentList:
        return self.components

    async def start(self, runtime_dir: Path, env: Mapping[str, str] | None = None) -> None:
        """Spawn the frontend (``env`` added to its environment) and serve the launcher's ops."""
        if self._serving is None:
            self._replier.bind()
            self._serving = asyncio.ensure_future(self._replier.serve())
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CTXBUS_RUNTIME_DIR": str(runtime_dir),
            "CTXBUS_LOG_DIR": str(runtime_dir / "log"),
            "CTXBUS_FRONTEND_PORT": "0",
            **(env or {}),
        }
        spec = ChildSpec(
            name="frontend",
            argv=(sys.executable, "-m", "frontend", "--announce"),
            env=env,
            log_dir=runtime_dir / "log",
        )
        self.child = await Child.spawn(spec)

    async def login_url(self) -> str:
        """The next unused login URL (the first one once the dashboard serves)."""
        async with asyncio.timeout(ANNOUNCE_TIMEOUT):
            return await self.urls.get()

    async def stop(self, *, restarting: bool = False) -> int:
        """Terminate the frontend; its exit code. ``restarting`` keeps the launcher stand-in."""
        assert self.child is not None
        code = await self.child.terminate(STOP_TIMEOUT)
        if self._serving is not None and not restarting:
            self._serving.cancel()
        return code


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    """main with the real backend app, ready."""
    async with running_main(runtime_dir, app=REAL_APP) as main:
        yield main


@pytest.fixture
async def frontend(real_main: MainProcess, runtime_dir: Path) -> AsyncIterator[FrontendProcess]:
    """A frontend serving the dashboard for ``real_main``; stopped cleanly at the end."""
    front = FrontendProcess(real_main.endpoints)
    await front.start(runtime_dir)
    try:
        yield front
    finally:
        assert front.child is not None
        code = await front.stop()
        assert code == 0, f"frontend exited with {code}:\n" + "\n".join(front.child.tail())
