"""A follower's liveness: each message it hears moves its deadline on; silence makes it `lost`."""

from __future__ import annotations

import asyncio

from bus import (
    BackendStatus,
    Endpoints,
    Heartbeat,
    HeartbeatRule,
    Proxy,
    Publisher,
    StateFollower,
    Update,
)
from bus.endpoints import BACKEND_STATUS, MAIN_HEARTBEAT
from tests.bus.conftest import READY_TIMEOUT

LIVENESS = 1.0  # seconds of silence before the follower says the owner is gone
BEAT_EVERY = 0.05  # seconds between heartbeats: far more often than LIVENESS
BEATING_FOR = 2.5  # seconds of heartbeats, past two deadlines the first wait would have had
DEADLINE = 30.0  # seconds for what should take one LIVENESS


async def _beat(publisher: Publisher) -> None:
    while True:
        await publisher.publish(
            MAIN_HEARTBEAT, Heartbeat(backend_seq=publisher.seq(BACKEND_STATUS))
        )
        await asyncio.sleep(BEAT_EVERY)  # sleep-ok: the heartbeat's period


async def _follow(
    follower: StateFollower[BackendStatus], kinds: list[str], lost: asyncio.Event
) -> None:
    update: Update[BackendStatus]
    async for update in follower.updates():
        kinds.append(update.kind)
        if update.kind == "lost":
            lost.set()


async def test_heartbeats_keep_the_follower_live_until_they_stop(endpoints: Endpoints) -> None:
    """No `lost` while heartbeats come more often than the liveness; `lost` once they stop."""
    publisher = Publisher(endpoints.publish)
    await publisher.publish(BACKEND_STATUS, BackendStatus(state="running", port=1))

    async def snapshot() -> BackendStatus:
        latest = publisher.latest(BACKEND_STATUS)
        assert isinstance(latest, BackendStatus)
        return latest

    rule = HeartbeatRule(MAIN_HEARTBEAT, Heartbeat, liveness=LIVENESS)
    follower = StateFollower(
        endpoints.events, BACKEND_STATUS, BackendStatus, snapshot, heartbeat=rule
    )
    proxy = Proxy(endpoints.publish, endpoints.events)
    kinds: list[str] = []
    async with asyncio.TaskGroup() as group:
        proxied = group.create_task(proxy.run())
        await asyncio.wait_for(proxy.wait_bound(), READY_TIMEOUT)
        beating = group.create_task(_beat(publisher))
        lost = asyncio.Event()
        following = group.create_task(_follow(follower, kinds, lost))
        await asyncio.sleep(BEATING_FOR)  # sleep-ok: the span in which no `lost` may come
        seen_while_beating = list(kinds)
        beating.cancel()
        await asyncio.wait_for(lost.wait(), DEADLINE)
        following.cancel()
        proxied.cancel()
    publisher.close()
    assert seen_while_beating == ["snapshot"]
