"""Bursts of pipelined requests (issue 12 §7, ``docs/protocol.md`` §4): a burst of quick requests
is answered in turn; ``busy`` is only for what is beyond the in-flight slots and the queue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from multiprocessing.queues import Queue

import pytest

from bus import Endpoints
from tests.bus.children import ReplierSettings, serve
from tests.bus.conftest import Children, wait_for
from tests.bus.test_fuzz import Wire, request

BURST = 200  # the probe's burst: 57 of these got ``busy`` when only in-flight slots counted
FLOOD = 500  # against one slot and a queue of 8: most must be ``busy``


def _served(children: Children, settings: ReplierSettings) -> Wire:
    ready = children.event()
    entered: Queue[str] = children.context.Queue()
    children.start(serve, settings, ready, entered)
    wait_for(ready, "the replier binding")
    return Wire(settings.address)


@pytest.fixture
def default_wire(children: Children, endpoints: Endpoints) -> Iterator[Wire]:
    """A DEALER to a replier with the default limits."""
    wire = _served(children, ReplierSettings(endpoints.control, hold=False))
    yield wire
    wire.close()


def pipelined(wire: Wire, count: int) -> Counter[str]:
    """Send ``count`` pings before reading any reply; each id's outcome, each exactly once."""
    for n in range(count):
        wire.sock.send_multipart([b"", request("ping", f"p{n}")])
    outcomes: dict[str, str] = {}
    for _ in range(count):
        reply = wire.ask_reply()
        assert reply.id is not None
        assert reply.id not in outcomes, f"{reply.id} was answered twice"
        outcomes[reply.id] = "ok" if reply.error is None else reply.error["code"]
    assert set(outcomes) == {f"p{n}" for n in range(count)}
    assert not wire.sock.poll(0), "a reply more than the requests"
    return Counter(outcomes.values())


def test_a_burst_of_quick_requests_is_answered_in_turn(default_wire: Wire) -> None:
    """200 pipelined pings on one DEALER: 200 answers, none ``busy``."""
    assert pipelined(default_wire, BURST) == Counter({"ok": BURST})


def test_past_the_queue_requests_get_busy_and_every_one_one_reply(
    children: Children, endpoints: Endpoints
) -> None:
    """With 1 slot and a queue of 8, a flood gets some ``busy``; every request one reply."""
    settings = ReplierSettings(endpoints.control, hold=False, max_in_flight=1, max_queued=8)
    wire = _served(children, settings)
    try:
        outcomes = pipelined(wire, FLOOD)
    finally:
        wire.close()
    assert outcomes["busy"] > 0
    assert outcomes["ok"] >= 1 + 8
    assert outcomes["ok"] + outcomes["busy"] == FLOOD
