"""The dashboard's capture buttons (frontend/capture_actions.py) against a real capture process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bus import AsyncRequester, Endpoints
from frontend.capture_actions import capture_router
from tests.fixtures.display import XServer
from tests.services.capture.harness import event_proxy, running_capture

pytestmark = pytest.mark.display


@pytest.fixture
async def proxy(endpoints: Endpoints) -> AsyncIterator[None]:
    """main's event forwarder, without main."""
    async with event_proxy(endpoints):
        yield


def client_for(endpoints: Endpoints) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(capture_router(AsyncRequester(endpoints.capture, timeout=5.0)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.usefixtures("proxy")
async def test_buttons_pause_capture_now_and_resume(
    runtime_dir: Path, endpoints: Endpoints, xvfb: XServer
) -> None:
    """pause → paused status, now → {kept, skipped}, resume → running; a bad action → 422."""
    xvfb.fill("white")
    async with running_capture(runtime_dir, ("--interval", "0.2"), display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.state == "running")
        async with client_for(endpoints) as client:
            paused = await client.post("/actions/capture/pause")
            assert (paused.status_code, paused.json()["state"]) == (200, "paused")
            xvfb.fill("navy")
            now = await client.post("/actions/capture/now")
            assert now.json() == {"kept": 1, "skipped": 0}
            resumed = await client.post("/actions/capture/resume")
            assert resumed.json()["state"] == "running"
            assert (await client.post("/actions/capture/bogus")).status_code == 422


async def test_capture_not_running_is_503(endpoints: Endpoints) -> None:
    """Without a capture process the buttons answer 503 with a reason."""
    app = FastAPI()
    app.include_router(capture_router(AsyncRequester(endpoints.capture, timeout=0.2, retries=1)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/actions/capture/pause")
    assert answer.status_code == 503
    assert "capture is not running" in answer.json()["error"]
