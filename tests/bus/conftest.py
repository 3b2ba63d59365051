"""Fixtures of the bus tests: spawned child processes with guaranteed teardown, tcp endpoints."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import pytest

from bus import Endpoints, Event, Proxy, Publisher
from bus.endpoints import _TCP_OFFSETS

READY_TIMEOUT = 30.0  # seconds for a spawned child to import and bind (2 busy cores)
STOP_TIMEOUT = 10.0


class Children:
    """Start children with spawn; the fixture's teardown makes sure none is left running."""

    def __init__(self) -> None:
        self.context: SpawnContext = mp.get_context("spawn")
        self.started: list[SpawnProcess] = []

    def start(self, target: Callable[..., None], *args: Any) -> SpawnProcess:
        proc = self.context.Process(target=target, args=args, daemon=True)
        proc.start()
        self.started.append(proc)
        return proc

    def event(self) -> MpEvent:
        return self.context.Event()

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.is_alive():
                proc.terminate()
        for proc in self.started:
            proc.join(STOP_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join(STOP_TIMEOUT)


def wait_for(event: MpEvent, what: str, timeout: float = READY_TIMEOUT) -> None:
    """Block until ``event`` is set, or fail the test saying what did not happen."""
    if not event.wait(timeout):
        pytest.fail(f"{what} did not happen within {timeout:g}s")


@pytest.fixture
def children() -> Iterator[Children]:
    """Spawned processes of one test; all stopped, and checked gone, at teardown."""
    kids = Children()
    try:
        yield kids
    finally:
        kids.stop_all()
    assert not [proc for proc in kids.started if proc.is_alive()]


def free_tcp_base() -> int:
    """A base port whose endpoint ports are all free on 127.0.0.1 right now."""
    span = max(_TCP_OFFSETS.values()) + 1
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + span > 65530:
            continue
        if all(_port_free(base + offset) for offset in range(span)):
            return base
    raise RuntimeError("no free run of tcp ports on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(params=["ipc", "tcp"])
def any_endpoints(request: pytest.FixtureRequest, runtime_dir: Path) -> Endpoints:
    """The test's endpoints over ipc, then over tcp on loopback."""
    if request.param == "tcp":
        return Endpoints(runtime_dir, "tcp", free_tcp_base())
    return Endpoints(runtime_dir)


@asynccontextmanager
async def owner_on_proxy(
    bus: Endpoints, publisher: Publisher, heartbeat_topic: str, beat: Callable[[], Event]
) -> AsyncIterator[None]:
    """In this process: main's proxy, and a topic owner's ``publisher`` beating on its topic."""
    proxy = Proxy(bus.publish, bus.events)
    async with asyncio.TaskGroup() as group:
        proxy_task = group.create_task(proxy.run())
        await asyncio.wait_for(proxy.wait_bound(), READY_TIMEOUT)
        beating = group.create_task(publisher.heartbeat(heartbeat_topic, beat))
        try:
            yield
        finally:
            beating.cancel()
            proxy_task.cancel()
            publisher.close()
