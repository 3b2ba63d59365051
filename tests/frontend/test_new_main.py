"""The frontend across a main restart: new instance and token (maybe port), same dashboard."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from bus import endpoints as names
from tests.fixtures.dashboard import dashboard_client
from tests.fixtures.processes import running_main
from tests.frontend.conftest import REAL_APP, FrontendProcess

EVENT_TIMEOUT = 30.0


async def wait_backend_instance(client: httpx.AsyncClient, instance: str) -> dict[str, object]:
    """Read the dashboard's event stream until a backend.status of main ``instance`` arrives."""
    async with asyncio.timeout(EVENT_TIMEOUT), client.stream("GET", "/events") as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data: "):
                continue
            message = json.loads(line.removeprefix("data: "))
            body = message["body"]
            if message["topic"] == names.BACKEND_STATUS and body and body["instance"] == instance:
                return dict(body)
    raise AssertionError("the event stream ended")


async def test_frontend_follows_a_new_main(runtime_dir: Path) -> None:
    """After main is replaced, the frontend re-asks get_port and proxies with the new token."""
    async with running_main(runtime_dir, app=REAL_APP) as first:
        front = FrontendProcess(first.endpoints)
        await front.start(runtime_dir)
        url = await front.login_url()
        client = dashboard_client(url)
        assert (await client.get(url)).status_code == 303
        assert (await client.get("/api/captures")).status_code == 200
    try:
        async with running_main(runtime_dir, app=REAL_APP) as second:
            instance = (await second.status()).instance
            await wait_backend_instance(client, instance)
            response = await client.get("/api/captures")
            assert response.status_code == 200, response.text
    finally:
        await client.aclose()
        assert await front.stop() == 0
