"""The dashboard's Components table: the launcher's snapshot reaches the page.

The keyed Clone pattern itself is tested in tests/bus/test_keyed_follower.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec

from bus import ComponentStatus
from bus import endpoints as names
from bus.messages import ComponentList, ComponentState
from tests.fixtures.dashboard import dashboard_client
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

EVENT_TIMEOUT = 30.0
LAUNCHER = "launcher-1"


def status(
    component: str, state: ComponentState, seq: int, instance: str = LAUNCHER
) -> ComponentStatus:
    """One component.status event as the launcher publishes it."""
    return ComponentStatus(component=component, state=state, seq=seq, instance=instance)


async def component_rows(url: str, wanted: str) -> dict[str, Any]:
    """The first component.status of ``wanted`` on the dashboard's event stream."""
    async with dashboard_client(url) as client:
        assert (await client.get(url)).status_code == 303
        async with asyncio.timeout(EVENT_TIMEOUT), client.stream("GET", "/events") as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data: "):
                    continue
                envelope = json.loads(line.removeprefix("data: "))
                body = envelope["body"]
                if envelope["topic"] == names.COMPONENT_STATUS and body["component"] == wanted:
                    return dict(envelope)
    raise AssertionError("the event stream ended")


async def test_dashboard_shows_a_component_that_was_running_before_it_started(
    real_main: MainProcess, runtime_dir: Path
) -> None:
    """main's `running`, published before the frontend subscribed, reaches the page (snapshot)."""
    front = FrontendProcess(real_main.endpoints)
    front.components = ComponentList(
        seq=1, instance=LAUNCHER, components=[status("main", "running", 1)]
    )
    await front.start(runtime_dir)
    try:
        envelope = await component_rows(await front.login_url(), "main")
        assert (envelope["kind"], envelope["body"]["state"]) == ("snapshot", "running")
    finally:
        assert await front.stop() == 0


async def test_dashboard_drops_a_url_that_is_no_components(
    real_main: MainProcess, runtime_dir: Path
) -> None:
    """A component row whose url is not a loopback URL of a ctxbus component reaches the page
    without it; a loopback one is kept."""
    front = FrontendProcess(real_main.endpoints)
    forged = msgspec.structs.replace(
        status("capture", "running", 1), url="http://evil.example/?token=x"
    )
    kept = msgspec.structs.replace(status("main", "running", 2), url="http://127.0.0.1:1733/")
    front.components = ComponentList(seq=2, instance=LAUNCHER, components=[forged, kept])
    await front.start(runtime_dir)
    try:
        url = await front.login_url()
        assert (await component_rows(url, "capture"))["body"]["url"] is None
        assert (await component_rows(await front.login_url(), "main"))["body"]["url"] == (
            "http://127.0.0.1:1733/"
        )
    finally:
        assert await front.stop() == 0
