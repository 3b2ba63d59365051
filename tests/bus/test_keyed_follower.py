"""The keyed Clone pattern: a row per component, each change once, gaps and lost ends re-synced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bus import (
    LAUNCHER_BEAT,
    ComponentStatus,
    Endpoints,
    KeyedFollower,
    KeyedSnapshot,
    LauncherHeartbeat,
    Publisher,
    Update,
    endpoints,
)
from bus.messages import ComponentState
from tests.bus.conftest import owner_on_proxy

DEADLINE = 30.0
Row = tuple[str, str, str, int]  # (kind, component, state, seq)


class Launcher:
    """The owner's side: publishes component.status, answers the keyed snapshot, beats."""

    def __init__(self, bus: Endpoints) -> None:
        self.publisher = Publisher(bus.publish)
        self.rows: dict[str, ComponentStatus] = {}

    async def publish(self, component: str, state: ComponentState) -> None:
        status = ComponentStatus(component=component, state=state)
        self.rows[component] = await self.publisher.publish(endpoints.COMPONENT_STATUS, status)

    def lose(self, component: str, state: ComponentState) -> None:
        """A change that is stamped (and in the snapshot) but never reaches the wire."""
        status = ComponentStatus(component=component, state=state)
        self.rows[component] = self.publisher.stamp(endpoints.COMPONENT_STATUS, status)

    async def snapshot(self) -> KeyedSnapshot[ComponentStatus]:
        seq = self.publisher.seq(endpoints.COMPONENT_STATUS)
        return KeyedSnapshot(seq, self.publisher.instance, list(self.rows.values()))

    def beat(self) -> LauncherHeartbeat:
        return LauncherHeartbeat(component_seq=self.publisher.seq(endpoints.COMPONENT_STATUS))


@asynccontextmanager
async def running_bus(bus: Endpoints) -> AsyncIterator[Launcher]:
    """A proxy, a launcher stand-in and its heartbeat, all in this process."""
    launcher = Launcher(bus)
    topic = endpoints.LAUNCHER_HEARTBEAT
    async with owner_on_proxy(bus, launcher.publisher, topic, launcher.beat):
        yield launcher


class Rows:
    """Every row update a follower yields, with a wait for the one that completes a test."""

    def __init__(self, follower: KeyedFollower[ComponentStatus]) -> None:
        self.rows: list[Row] = []
        self.follower = follower
        self._changed = asyncio.Event()

    async def run(self) -> None:
        update: Update[ComponentStatus]
        async for update in self.follower.updates():
            if update.event is not None:
                event = update.event
                self.rows.append((update.kind, event.component, event.state, event.seq))
                self._changed.set()

    async def until(self, component: str, seq: int) -> list[Row]:
        return await self.until_true(
            lambda: any(row[1] == component and row[3] == seq for row in self.rows)
        )

    async def until_true(self, done: Callable[[], bool]) -> list[Row]:
        async with asyncio.timeout(DEADLINE):
            while not done():
                self._changed.clear()
                await self._changed.wait()
        return self.rows


@asynccontextmanager
async def following(bus: Endpoints, launcher: Launcher) -> AsyncIterator[Rows]:
    follower = KeyedFollower(
        bus.events,
        endpoints.COMPONENT_STATUS,
        ComponentStatus,
        lambda status: status.component,
        launcher.snapshot,
        heartbeat=LAUNCHER_BEAT,
    )
    rows = Rows(follower)
    task = asyncio.create_task(rows.run())
    try:
        yield rows
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def check_each_change_once(rows: list[Row]) -> None:
    seqs = [row[3] for row in rows]
    assert len(seqs) == len(set(seqs)), f"a change was applied twice: {rows}"


async def test_snapshot_rows_then_only_newer_changes(endpoints: Endpoints) -> None:
    """Each component's latest row comes from the snapshot; later changes follow once each."""
    async with running_bus(endpoints) as launcher:
        await launcher.publish("main", "starting")
        await launcher.publish("main", "running")
        await launcher.publish("frontend", "running")
        async with following(endpoints, launcher) as rows:
            await rows.until("frontend", 3)
            await launcher.publish("capture", "running")
            seen = await rows.until("capture", 4)
    assert seen[:2] == [("snapshot", "main", "running", 2), ("snapshot", "frontend", "running", 3)]
    assert seen[2][1:] == ("capture", "running", 4)
    check_each_change_once(seen)


async def test_a_gap_takes_a_fresh_snapshot(endpoints: Endpoints) -> None:
    """A change that never arrived shows up from a re-sync, in order, none twice."""
    async with running_bus(endpoints) as launcher:
        await launcher.publish("main", "running")
        async with following(endpoints, launcher) as rows:
            await rows.until("main", 1)
            launcher.lose("capture", "starting")  # seq 2 is lost
            await launcher.publish("frontend", "running")  # seq 3 shows the gap
            seen = await rows.until("frontend", 3)
    assert ("resync", "capture", "starting", 2) in seen
    check_each_change_once(seen)


async def test_a_lost_last_change_is_noticed_by_the_heartbeat(endpoints: Endpoints) -> None:
    """With no later event to show the gap, the launcher's heartbeat carries its seq: a re-sync."""
    async with running_bus(endpoints) as launcher:
        await launcher.publish("main", "running")
        async with following(endpoints, launcher) as rows:
            await rows.until("main", 1)
            launcher.lose("main", "stopping")  # the last change, never sent
            seen = await rows.until("main", 2)
    assert seen[-1] == ("resync", "main", "stopping", 2)
    check_each_change_once(seen)
