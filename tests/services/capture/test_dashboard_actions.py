"""The dashboard's capture buttons (frontend/capture_actions.py) against a real capture process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bus import AsyncRequester, Endpoints
from frontend.capture_actions import capture_routes
from tests.fixtures.display import XServer
from tests.services.capture.harness import event_proxy, running_capture

pytestmark = pytest.mark.display


@pytest.fixture
async def proxy(endpoints: Endpoints) -> AsyncIterator[None]:
    """main's event forwarder, without main."""
    async with event_proxy(endpoints):
        yield


@asynccontextmanager
async def client_for(requester: AsyncRequester) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the capture routes alone, relaying through ``requester`` (closed after)."""
    app = Starlette(routes=capture_routes(requester))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        requester.close()


@pytest.mark.usefixtures("proxy")
async def test_buttons_pause_capture_now_and_resume(
    runtime_dir: Path, endpoints: Endpoints, xvfb: XServer
) -> None:
    """pause → paused status, now → {kept, skipped}, resume → running; a bad action → 422."""
    xvfb.fill("white")
    async with running_capture(runtime_dir, ("--interval", "0.2"), display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.state == "running")
        async with client_for(AsyncRequester(endpoints.capture, timeout=5.0)) as client:
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
    requester = AsyncRequester(endpoints.capture, timeout=0.2, retries=1)
    async with client_for(requester) as client:
        answer = await client.post("/actions/capture/pause")
    assert answer.status_code == 503
    assert "capture is not running" in answer.json()["error"]


async def test_exclude_body_is_checked_before_capture_is_asked(endpoints: Endpoints) -> None:
    """A body that is not {"app": <1 to 256 characters>} gets 422 without reaching capture."""
    requester = AsyncRequester(endpoints.capture, timeout=0.2, retries=1)
    async with client_for(requester) as client:
        for body in (b'{"app": ""}', b'{"app": "' + b"x" * 257 + b'"}', b"{", b'{"app": 3}'):
            answer = await client.post("/actions/capture/exclude", content=body)
            assert answer.status_code == 422, body
            assert "app" in answer.json()["error"]
        answer = await client.post("/actions/capture/exclude", json={"app": "x" * 256})
    assert answer.status_code == 503, "a valid body is relayed (no capture here)"
