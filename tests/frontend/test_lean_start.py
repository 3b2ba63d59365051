"""The frontend serves before it loads httpx (its backend link opens after) and without collecting
garbage on the way; an /api request that comes first waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from bus import AsyncRequester
from frontend.app import AppParts, create_app
from frontend.backend_link import BackendLink
from frontend.events import EventHub
from frontend.gate import TokenGate
from tests.fixtures.processes import MainProcess, python_output

ANSWER_TIMEOUT = 10.0
CLOSED_LINK_WAIT = (
    0.3  # seconds an /api request is watched not to be answered while the link is closed
)
HOST = "ctxbus-testtest00.localhost"

# Imports what `python -m frontend` imports before it serves, then reports.
PROBE = """
import gc, json, sys
import frontend.__main__
import frontend.service
print(json.dumps({"httpx": "httpx" in sys.modules, "collecting": gc.isenabled()}))
"""


def test_frontend_serves_without_httpx_and_collects_no_garbage_until_then() -> None:
    """Before it serves, the frontend has no httpx and a paused garbage collector."""
    found = json.loads(python_output(PROBE).splitlines()[-1])
    assert found == {"httpx": False, "collecting": False}


@pytest.fixture
async def closed_link(
    real_main: MainProcess,
) -> AsyncIterator[tuple[BackendLink, TokenGate, httpx.ASGITransport]]:
    """The dashboard app in-process, in front of the real backend, its backend link not open."""
    control = AsyncRequester(real_main.endpoints.control)
    capture = AsyncRequester(real_main.endpoints.capture, timeout=0.1, retries=1)
    link = BackendLink(real_main.endpoints, control)
    gate = TokenGate(1734, b"s" * 32, HOST)
    parts = AppParts(gate, EventHub(), link, control, capture)
    try:
        yield link, gate, httpx.ASGITransport(app=create_app(parts))
    finally:
        await link.aclose()
        control.close()
        capture.close()


async def waiting_api_request(
    client: httpx.AsyncClient, gate: TokenGate
) -> asyncio.Future[httpx.Response]:
    """Signed in, an /api request sent while the backend link is closed: still unanswered."""
    assert (await client.get(gate.url)).status_code == 303
    pending = asyncio.ensure_future(client.get("/api/captures"))
    done, _ = await asyncio.wait([pending], timeout=CLOSED_LINK_WAIT)  # sleep-ok: must not end
    assert not done, "answered while the backend link was closed"
    return pending


async def test_api_request_before_the_link_opens_is_answered_once_it_is(
    closed_link: tuple[BackendLink, TokenGate, httpx.ASGITransport],
) -> None:
    """An /api request made before the backend link opens waits, then gets the backend's answer."""
    link, gate, transport = closed_link
    async with httpx.AsyncClient(transport=transport, base_url=gate.origin) as client:
        pending = await waiting_api_request(client, gate)
        await link.open()
        async with asyncio.timeout(ANSWER_TIMEOUT):
            response = await pending
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")


async def test_api_request_waiting_for_the_link_ends_when_the_frontend_stops(
    closed_link: tuple[BackendLink, TokenGate, httpx.ASGITransport],
) -> None:
    """An /api request still waiting for the link gets a 502 when the link is given up (stop)."""
    link, gate, transport = closed_link
    async with httpx.AsyncClient(transport=transport, base_url=gate.origin) as client:
        pending = await waiting_api_request(client, gate)
        link.give_up()
        async with asyncio.timeout(ANSWER_TIMEOUT):
            response = await pending
    assert response.status_code == 502
    assert "stopping" in response.json()["detail"]
