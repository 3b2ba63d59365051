"""What was on screen, across processes (issue 9): a real capture on an openbox desktop, a real main
and backend. A window switch makes a ``capture.frame`` carrying the window's app and title and
``trigger="window"``, and the backend stores and lists them with the capture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from bench.scenery import XServer, running_xvfb
from tests.fixtures.processes import MainProcess, running_main
from tests.services.capture.desktop import activate, open_window, start_openbox
from tests.services.capture.harness import running_capture

pytestmark = pytest.mark.display

BACKEND_APP = "backend.app:create_app"
SIZE = (640, 480)
TRIGGERED = ("--interval", "3600", "--settle", "0.3")  # a grab at start, then on window switches
TITLE = "Année 2026 — notes.txt"  # non-ASCII: _NET_WM_NAME is read as UTF-8


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    """main with the real backend app (storage and the captures API), ready."""
    async with running_main(runtime_dir, app=BACKEND_APP) as main:
        yield main


@pytest.fixture
def desktop() -> Iterator[XServer]:
    """A 640x480 Xvfb managed by openbox."""
    with running_xvfb(SIZE) as server:
        start_openbox(server)
        yield server


async def test_a_window_switch_frame_carries_its_window_to_the_backend(
    real_main: MainProcess, runtime_dir: Path, desktop: XServer
) -> None:
    """capture.frame of a switch: app, title, trigger=window; the stored capture lists them."""
    first = open_window(desktop, "Terminal", "~/src", "640x480+0+0")
    second = open_window(desktop, "Gedit", TITLE, "640x480+0+0")
    activate(desktop, first)
    async with running_capture(runtime_dir, TRIGGERED, desktop.display) as capture:
        start = await capture.frames.wait_for(lambda f: f.app == "Terminal")
        assert (start.title, start.trigger) == ("~/src", "interval")
        seen = len(capture.frames.events)
        activate(desktop, second)
        frame = await capture.frames.wait_for(lambda f: f.trigger == "window", after=seen)
    assert (frame.app, frame.title) == ("Gedit", TITLE)
    info = await real_main.port_info()
    headers = {"Authorization": f"Bearer {info.token}"}
    async with httpx.AsyncClient(base_url=info.base_url, headers=headers) as client:
        stored = (await client.get(f"/api/captures/{frame.id}")).json()
        listed = (await client.get("/api/captures", params={"app": "Gedit"})).json()["items"]
    process = psutil.Process(second.pid).name()
    assert (stored["app"], stored["title"], stored["process"]) == ("Gedit", TITLE, process)
    assert stored["pid"] == second.pid
    assert [(item["id"], item["title"]) for item in listed] == [(frame.id, TITLE)]
