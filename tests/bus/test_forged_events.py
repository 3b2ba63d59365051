"""Forged events (issue 12 §3): a same-user program publishing on ``publish.sock`` with the
owner's instance id. Events are hints; followers end on the owner's snapshot, the truth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import msgspec
import zmq
import zmq.asyncio

from bus import (
    MAIN_BEAT,
    BackendStatus,
    ComponentStatus,
    Endpoints,
    Event,
    Heartbeat,
    Publisher,
    StateFollower,
    Update,
    subscribe,
)
from bus.codec import encode_event
from bus.endpoints import BACKEND_STATUS, COMPONENT_STATUS, MAIN_HEARTBEAT
from bus.messages import BackendState
from tests.bus.conftest import owner_on_proxy
from tests.bus.test_keyed_follower import DEADLINE, following, running_bus

FORGE_EVERY = 0.05  # seconds between resends while the forger's connection comes up


class Forger:
    """A PUB socket on ``publish.sock`` that sends hand-stamped events until told to stop."""

    def __init__(self, bus: Endpoints) -> None:
        self.sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(bus.publish)
        self.bus = bus

    async def send_until(self, topic: str, event: Event, seen: Callable[[], bool]) -> None:
        """Resend ``event`` until ``seen()`` (a PUB drops what it sends before it is joined)."""
        async with asyncio.timeout(DEADLINE):
            while not seen():
                self.sock.send_multipart(encode_event(topic, event))
                await asyncio.sleep(FORGE_EVERY)  # sleep-ok: a resend period

    async def send_until_heard(self, topic: str, event: Event) -> None:
        """Resend ``event`` until a subscriber of ``events.sock`` joined now hears it: every
        follower joined before has then been sent it, ahead of anything published later."""
        witness = subscribe(zmq.asyncio.Context.instance(), self.bus.events, [topic])
        try:
            async with asyncio.timeout(DEADLINE):
                while True:
                    self.sock.send_multipart(encode_event(topic, event))
                    if await _heard(witness, event):
                        return
        finally:
            witness.close(linger=0)

    def close(self) -> None:
        self.sock.close(linger=0)


async def _heard(witness: zmq.asyncio.Socket, event: Event) -> bool:
    """Whether ``event`` arrives within one resend period."""
    body = encode_event("", event)[1]
    while await witness.poll(int(FORGE_EVERY * 1000)):
        if (await witness.recv_multipart())[1] == body:
            return True
    return False


@asynccontextmanager
async def forger(bus: Endpoints) -> AsyncIterator[Forger]:
    forging = Forger(bus)
    try:
        yield forging
    finally:
        forging.close()


def stamped(event: Event, like: Event, seq: int) -> Event:
    """``event`` with the owner's instance and the given ``seq``: a well-formed forgery."""
    return msgspec.structs.replace(event, seq=seq, instance=like.instance, ts=time.time())


class Main:
    """main's side of ``backend.status``: publishes, answers the snapshot, beats."""

    def __init__(self, bus: Endpoints) -> None:
        self.publisher = Publisher(bus.publish)

    async def publish(self, state: BackendState) -> BackendStatus:
        return await self.publisher.publish(
            BACKEND_STATUS,
            BackendStatus(state=state, port=1),
        )

    async def snapshot(self) -> BackendStatus:
        latest = self.publisher.latest(BACKEND_STATUS)
        assert isinstance(latest, BackendStatus)
        return latest

    def beat(self) -> Heartbeat:
        return Heartbeat(backend_seq=self.publisher.seq(BACKEND_STATUS))


@asynccontextmanager
async def main_bus(bus: Endpoints) -> AsyncIterator[Main]:
    """A proxy, a main stand-in and its heartbeat, all in this process."""
    main = Main(bus)
    async with owner_on_proxy(bus, main.publisher, MAIN_HEARTBEAT, main.beat):
        yield main


class States:
    """What a backend.status follower yields, with a wait on a condition."""

    def __init__(self, follower: StateFollower[BackendStatus]) -> None:
        self.follower = follower
        self.seen: list[tuple[str, str, int]] = []
        self._changed = asyncio.Event()

    async def run(self) -> None:
        update: Update[BackendStatus]
        async for update in self.follower.updates():
            if update.event is not None:
                self.seen.append((update.kind, update.event.state, update.event.seq))
                self._changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not done():
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def following_main(bus: Endpoints, main: Main) -> AsyncIterator[States]:
    follower = StateFollower(
        bus.events, BACKEND_STATUS, BackendStatus, main.snapshot, heartbeat=MAIN_BEAT
    )
    states = States(follower)
    task = asyncio.create_task(states.run())
    try:
        yield states
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_forged_next_backend_status_is_undone_by_the_heartbeat(
    endpoints: Endpoints,
) -> None:
    """A forged ``error`` at seq+1 is believed at first, then the heartbeat restores the truth."""
    async with main_bus(endpoints) as main, following_main(endpoints, main) as states:
        truth = await main.publish("running")
        await states.until(lambda: states.follower.state == truth)
        forged = stamped(BackendStatus(state="error", port=1), truth, truth.seq + 1)
        async with forger(endpoints) as forging:
            await forging.send_until(
                BACKEND_STATUS, forged, lambda: ("event", "error", 2) in states.seen
            )
        await states.until(lambda: states.follower.state == truth)
    assert states.seen[-1] == ("resync", "running", truth.seq)


async def test_the_genuine_event_after_a_forgery_of_its_seq_wins(endpoints: Endpoints) -> None:
    """The genuine event repeating a forged seq is told two ways: the follower asks main."""
    async with main_bus(endpoints) as main, following_main(endpoints, main) as states:
        first = await main.publish("running")
        await states.until(lambda: states.follower.state == first)
        forged = stamped(BackendStatus(state="error", port=1), first, first.seq + 1)
        async with forger(endpoints) as forging:
            await forging.send_until(
                BACKEND_STATUS, forged, lambda: ("event", "error", 2) in states.seen
            )
        truth = await main.publish("stopping")
        await states.until(lambda: states.follower.state == truth)


async def test_a_forged_far_future_component_status_does_not_freeze_the_row(
    endpoints: Endpoints,
) -> None:
    """A forged seq 10^15 is not applied, and the launcher's next change still is."""
    async with running_bus(endpoints) as launcher:
        await launcher.publish("main", "running")
        async with following(endpoints, launcher) as rows, forger(endpoints) as forging:
            await rows.until("main", 1)
            owner = launcher.rows["main"]
            forged = stamped(ComponentStatus(component="main", state="error"), owner, 10**15)
            await forging.send_until_heard(COMPONENT_STATUS, forged)
            await launcher.publish("main", "stopping")
            seen = await rows.until("main", 2)
    assert all(row[3] != 10**15 for row in seen)
    assert rows.follower.state["main"] == launcher.rows["main"]


async def test_a_forged_next_component_status_is_replaced_by_the_snapshot(
    endpoints: Endpoints,
) -> None:
    """A forged row at seq+1 is undone by the launcher's heartbeat: the row is the launcher's."""
    async with running_bus(endpoints) as launcher:
        await launcher.publish("main", "running")
        async with following(endpoints, launcher) as rows, forger(endpoints) as forging:
            await rows.until("main", 1)
            owner = launcher.rows["main"]
            forged = stamped(ComponentStatus(component="main", state="error"), owner, 2)
            await forging.send_until(
                COMPONENT_STATUS,
                forged,
                lambda: ("event", "main", "error", 2) in rows.rows,
            )
            await rows.until_true(lambda: rows.rows[-1] == ("resync", "main", "running", 1))
    assert rows.follower.state["main"] == owner
