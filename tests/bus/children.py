"""Process bodies for the cross-process bus tests, started with multiprocessing's spawn.

Each child reports over multiprocessing queues and events; none of them sleeps to wait: they
block on their sockets or on the parent's signals, each with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from typing import Literal

import msgspec

from bus import (
    Accepted,
    AsyncRequester,
    BackendStatus,
    BusError,
    Endpoints,
    Heartbeat,
    HeartbeatRule,
    Message,
    NoArgs,
    OpError,
    PingResult,
    Publisher,
    Replier,
    Requester,
    StateFollower,
)
from bus.endpoints import BACKEND_STATUS, MAIN_HEARTBEAT
from bus.ops import MainOps, Op
from bus.replier import MAX_QUEUED

CHILD_DEADLINE = 60.0  # seconds: no child outlives a stuck test by more than this
HEARTBEAT_EVERY = 0.2  # seconds between heartbeats in the Clone test


class EchoArgs(Message, kw_only=True):
    """Arguments of the test replier's ``echo``: typed, so wrong types can be sent."""

    text: str
    times: int = 1


class EchoResult(Message, kw_only=True):
    text: str


class AnyResult(msgspec.Struct):
    """Any ``result`` object: the requester children only report whether a call succeeded."""


ECHO = Op("echo", EchoArgs, EchoResult)
HOLD = Op("hold", NoArgs, Accepted)
REFUSE = Op("refuse", NoArgs, Accepted)
CRASH = Op("crash", NoArgs, Accepted)


@dataclass(frozen=True, slots=True)
class ReplierSettings:
    """What the test replier serves; picklable for spawn."""

    address: str
    hold: bool = True  # ``hold`` blocks until the process dies (else it answers at once)
    max_in_flight: int = 64
    max_queued: int = MAX_QUEUED
    endpoints: Endpoints | None = None  # over tcp: serve its control endpoint, with its keys


# -- the replier ----------------------------------------------------------------------------------


def serve(settings: ReplierSettings, ready: MpEvent, entered: Queue[str]) -> None:
    """A Replier with ``ping``, ``echo``, ``hold``, ``refuse`` and ``crash``; ready once bound."""
    asyncio.run(_serve(settings, ready, entered))


async def _serve(settings: ReplierSettings, ready: MpEvent, entered: Queue[str]) -> None:
    started = time.monotonic()
    never = asyncio.Event()

    async def ping(_: NoArgs) -> PingResult:
        return PingResult(pid=os.getpid(), instance="test", uptime_s=time.monotonic() - started)

    async def echo(args: EchoArgs) -> EchoResult:
        return EchoResult(text=args.text * args.times)

    async def hold(_: NoArgs) -> Accepted:
        entered.put("hold")
        if settings.hold:
            await never.wait()
        return Accepted()

    async def refuse(_: NoArgs) -> Accepted:
        raise OpError("not_running", "the backend is stopped; start it with start_backend")

    async def crash(_: NoArgs) -> Accepted:
        raise ValueError("a bug in a handler")

    address = settings.address if settings.endpoints is None else settings.endpoints.control
    replier = Replier(address, max_in_flight=settings.max_in_flight, max_queued=settings.max_queued)
    replier.register(MainOps.PING, ping)
    replier.register(ECHO, echo)
    replier.register(HOLD, hold)
    replier.register(REFUSE, refuse)
    replier.register(CRASH, crash)
    replier.bind()
    ready.set()
    async with asyncio.timeout(CHILD_DEADLINE):
        await replier.serve()


# -- requesters ------------------------------------------------------------------------------------

Flavour = Literal["async", "blocking"]


@dataclass(frozen=True, slots=True)
class RequesterSettings:
    address: str
    flavour: Flavour
    timeout: float
    retries: int


def request(settings: RequesterSettings, commands: Queue[str], outcomes: Queue[str]) -> None:
    """Run each op named on ``commands`` (until ``stop``); report ``ok`` or the error's class."""
    if settings.flavour == "async":
        asyncio.run(_request_async(settings, commands, outcomes))
        return
    requester = Requester(settings.address, timeout=settings.timeout, retries=settings.retries)
    try:
        while (op := commands.get(timeout=CHILD_DEADLINE)) != "stop":
            try:
                requester.call(Op(op, NoArgs, AnyResult))
                outcomes.put("ok")
            except BusError as exc:
                outcomes.put(type(exc).__name__)
    finally:
        requester.close()


async def _request_async(
    settings: RequesterSettings, commands: Queue[str], outcomes: Queue[str]
) -> None:
    requester = AsyncRequester(settings.address, timeout=settings.timeout, retries=settings.retries)
    try:
        while (op := await asyncio.to_thread(commands.get, timeout=CHILD_DEADLINE)) != "stop":
            try:
                await requester.call(Op(op, NoArgs, AnyResult))
                outcomes.put("ok")
            except BusError as exc:
                outcomes.put(type(exc).__name__)
    finally:
        requester.close()


# -- the Clone pattern -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamSettings:
    endpoints: Endpoints
    events: int  # backend.status events after the first
    late_at: int  # the seq at which the late subscriber is told to join
    lose_every: int  # every n-th event, and the last, is stamped but never sent: a lost event


def publish_stream(
    settings: StreamSettings, go: MpEvent, late: MpEvent, stop: MpEvent, ready: MpEvent
) -> None:
    """main's part: publish ``backend.status`` at full speed, heartbeats, and ``get_status``."""
    asyncio.run(_publish_stream(settings, go, late, stop, ready))


async def _publish_stream(
    settings: StreamSettings, go: MpEvent, late: MpEvent, stop: MpEvent, ready: MpEvent
) -> None:
    publisher = Publisher(settings.endpoints.publish)
    await publisher.publish(BACKEND_STATUS, BackendStatus(state="starting", port=0))

    async def get_status(_: NoArgs) -> BackendStatus:
        latest = publisher.latest(BACKEND_STATUS)
        assert isinstance(latest, BackendStatus)
        return latest

    replier = Replier(settings.endpoints.control)
    replier.register(MainOps.GET_STATUS, get_status)
    replier.bind()
    try:
        async with asyncio.timeout(CHILD_DEADLINE), asyncio.TaskGroup() as group:
            serving = group.create_task(replier.serve())
            beating = group.create_task(_heartbeats(publisher))
            ready.set()
            await asyncio.to_thread(go.wait, CHILD_DEADLINE)
            await _burst(publisher, settings, late)
            await asyncio.to_thread(stop.wait, CHILD_DEADLINE)
            serving.cancel()
            beating.cancel()
    finally:
        publisher.close()


async def _heartbeats(publisher: Publisher) -> None:
    while True:
        await publisher.publish(
            MAIN_HEARTBEAT, Heartbeat(backend_seq=publisher.seq(BACKEND_STATUS))
        )
        await asyncio.sleep(HEARTBEAT_EVERY)  # sleep-ok: the heartbeat period, not a wait


async def _burst(publisher: Publisher, settings: StreamSettings, late: MpEvent) -> None:
    """Every event back to back; a turn for the replier every 64 so snapshots are mid-stream.

    Some events are lost on purpose (their seq is used, nothing is sent), like events a full
    queue drops: followers must notice the gap, or the heartbeat's seq for the last one.
    """
    for n in range(1, settings.events + 1):
        event = BackendStatus(state="running", port=8000 + n % 2, restarts=n, pid=os.getpid())
        if n % settings.lose_every == 0 or n == settings.events:
            stamped = publisher.stamp(BACKEND_STATUS, event)
        else:
            stamped = await publisher.publish(BACKEND_STATUS, event)
        if stamped.seq == settings.late_at:
            late.set()
        if n % 64 == 0:
            await asyncio.sleep(0)  # sleep-ok: yields to the loop between bursts


Record = list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class FollowSettings:
    endpoints: Endpoints
    final_seq: int


def follow(
    settings: FollowSettings, start: MpEvent | None, joined: MpEvent, records: Queue[Record]
) -> None:
    """A StateFollower until its state has ``final_seq``: every (kind, seq) it yielded, in order.

    The record ends with ``("resyncs", n)`` and ``("restarts", n)`` of the final state.
    """
    asyncio.run(_follow(settings, start, joined, records))


async def _follow(
    settings: FollowSettings, start: MpEvent | None, joined: MpEvent, records: Queue[Record]
) -> None:
    endpoints = settings.endpoints
    if start is not None:
        await asyncio.to_thread(start.wait, CHILD_DEADLINE)
    requester = AsyncRequester(endpoints.control)

    async def snapshot() -> BackendStatus:
        return await requester.call(MainOps.GET_STATUS)

    follower = StateFollower(
        endpoints.events, BACKEND_STATUS, BackendStatus, snapshot, heartbeat=HeartbeatRule()
    )
    seen: Record = []
    async with asyncio.timeout(CHILD_DEADLINE):
        async for update in follower.updates():
            joined.set()
            if update.event is None:
                seen.append((update.kind, -1))
                continue
            seen.append((update.kind, update.event.seq))
            if update.event.seq == settings.final_seq:
                break
    requester.close()
    assert follower.state is not None
    seen += [("resyncs", follower.resyncs), ("restarts", follower.state.restarts)]
    records.put(seen)
