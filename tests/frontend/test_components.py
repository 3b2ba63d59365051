"""The dashboard's Components table: the launcher's snapshot, then later events by seq."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bus import BusTimeout, ComponentStatus
from bus import endpoints as names
from bus.messages import ComponentList, ComponentState
from frontend.events import ComponentTable, EventHub
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

EVENT_TIMEOUT = 30.0
LAUNCHER = "launcher-1"


def status(
    component: str, state: ComponentState, seq: int, instance: str = LAUNCHER
) -> ComponentStatus:
    """One component.status event as the launcher publishes it."""
    return ComponentStatus(component=component, state=state, seq=seq, instance=instance)


class RecordingHub(EventHub):
    """An EventHub that also keeps (kind, component, state, seq) of each component.status."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str, int]] = []

    def broadcast(self, topic: str, kind: str, body: bytes | None) -> None:
        if topic == names.COMPONENT_STATUS:
            event = json.loads(body or b"{}")
            self.rows.append((kind, event["component"], event["state"], event["seq"]))
        super().broadcast(topic, kind, body)


async def test_snapshot_then_only_newer_events_per_component() -> None:
    """Snapshot rows first; an event at or below its component's snapshot seq is not applied."""
    hub = RecordingHub()
    snap = ComponentList(
        seq=3,
        instance=LAUNCHER,
        components=[status("main", "running", 2), status("frontend", "running", 3)],
    )

    async def snapshot() -> ComponentList:
        return snap

    table = ComponentTable(hub, snapshot)
    await table.sync()
    await table.on_event(status("main", "running", 2))  # already in the snapshot
    await table.on_event(status("capture", "running", 4))
    assert hub.rows == [
        ("snapshot", "main", "running", 2),
        ("snapshot", "frontend", "running", 3),
        ("event", "capture", "running", 4),
    ]


async def test_gap_or_new_launcher_takes_a_fresh_snapshot() -> None:
    """A skipped seq or another launcher instance re-reads the launcher's components."""
    hub = RecordingHub()
    snaps = [
        ComponentList(seq=1, instance=LAUNCHER, components=[status("main", "starting", 1)]),
        ComponentList(
            seq=3,
            instance=LAUNCHER,
            components=[status("main", "running", 2), status("frontend", "running", 3)],
        ),
    ]

    async def snapshot() -> ComponentList:
        return snaps.pop(0)

    table = ComponentTable(hub, snapshot)
    await table.sync()
    await table.on_event(status("frontend", "running", 3))  # seq 2 was missed
    assert hub.rows == [
        ("snapshot", "main", "starting", 1),
        ("snapshot", "main", "running", 2),
        ("snapshot", "frontend", "running", 3),
    ]


async def test_no_launcher_no_rows() -> None:
    """Without a launcher's answer the table stays empty; a later event still shows."""
    hub = RecordingHub()

    async def snapshot() -> ComponentList:
        raise BusTimeout("no launcher")

    table = ComponentTable(hub, snapshot)
    await table.sync()
    assert hub.rows == []
    await table.on_event(status("main", "running", 5))
    assert hub.rows == [("event", "main", "running", 5)]


async def component_rows(url: str, wanted: str) -> dict[str, Any]:
    """The first component.status of ``wanted`` on the dashboard's event stream."""
    parts = urlsplit(url)
    async with httpx.AsyncClient(base_url=f"{parts.scheme}://{parts.netloc}") as client:
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
