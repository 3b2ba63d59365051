"""Lazy Pirate across processes: a replier killed mid-request, restarted, and its clients."""

from __future__ import annotations

import os
import signal
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from bus import Endpoints
from bus.endpoints import REQUEST_RETRIES, REQUEST_TIMEOUT
from tests.bus.children import (
    Flavour,
    ReplierSettings,
    RequesterSettings,
    request,
    serve,
)
from tests.bus.conftest import READY_TIMEOUT, Children, wait_for

FLAVOURS: tuple[Flavour, ...] = ("async", "blocking")
TIMEOUT, RETRIES = REQUEST_TIMEOUT, REQUEST_RETRIES  # the production Lazy Pirate settings


class Client:
    """A requester process driven by op names; one outcome per op."""

    def __init__(self, children: Children, settings: RequesterSettings) -> None:
        self.commands: Queue[str] = children.context.Queue()
        self.outcomes: Queue[str] = children.context.Queue()
        self.process = children.start(request, settings, self.commands, self.outcomes)

    def send(self, op: str) -> None:
        self.commands.put(op)

    def outcome(self) -> str:
        return self.outcomes.get(timeout=READY_TIMEOUT)


class Server:
    """A replier process; ``up()`` waits until it is bound."""

    def __init__(self, children: Children, settings: ReplierSettings, entered: Queue[str]) -> None:
        self.ready = children.event()
        self.process = children.start(serve, settings, self.ready, entered)

    def up(self) -> BaseProcess:
        wait_for(self.ready, "the replier binding")
        return self.process


def _kill(proc: BaseProcess) -> None:
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(READY_TIMEOUT)
    assert proc.exitcode == -signal.SIGKILL


def test_killed_replier_times_out_the_call_in_flight_and_serves_after_restart(
    children: Children, endpoints: Endpoints
) -> None:
    """SIGKILL mid-request: both requester flavours raise BusTimeout, then succeed after restart."""
    settings = ReplierSettings(endpoints.control, hold=True)
    entered: Queue[str] = children.context.Queue()
    server = Server(children, settings, entered)  # starts while the clients start
    clients = [
        Client(children, RequesterSettings(endpoints.control, flavour, TIMEOUT, RETRIES))
        for flavour in FLAVOURS
    ]
    replier = server.up()
    for client in clients:
        client.send("ping")
    assert [client.outcome() for client in clients] == ["ok", "ok"]

    for client in clients:
        client.send("hold")
    assert [entered.get(timeout=READY_TIMEOUT) for _ in clients] == ["hold", "hold"]
    _kill(replier)
    assert [client.outcome() for client in clients] == ["BusTimeout", "BusTimeout"]

    Server(children, settings, entered).up()
    for client in clients:
        client.send("ping")
    assert [client.outcome() for client in clients] == ["ok", "ok"]
    for client in clients:
        client.send("stop")
        client.process.join(READY_TIMEOUT)
        assert client.process.exitcode == 0


def test_resend_reaches_a_replier_restarted_within_the_retries(
    children: Children, endpoints: Endpoints
) -> None:
    """A restart inside the retry window: the Lazy Pirate resend is answered by the new replier."""
    entered: Queue[str] = children.context.Queue()
    server = Server(children, ReplierSettings(endpoints.control, hold=True), entered)
    clients = [
        Client(children, RequesterSettings(endpoints.control, flavour, timeout=0.5, retries=40))
        for flavour in FLAVOURS
    ]
    replier = server.up()
    for client in clients:
        client.send("hold")
    assert [entered.get(timeout=READY_TIMEOUT) for _ in clients] == ["hold", "hold"]
    _kill(replier)

    Server(children, ReplierSettings(endpoints.control, hold=False), entered).up()
    assert [client.outcome() for client in clients] == ["ok", "ok"]
    for client in clients:
        client.send("stop")
