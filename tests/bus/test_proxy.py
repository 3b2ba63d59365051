"""main's proxy: its own events go out of the XPUB itself, everyone else's are forwarded.

Real sockets over ipc and tcp (CURVE) in one process: the proxy in this test's event loop, as in
main, a PUB socket of "another process" connected to its XSUB, and SUB sockets on its XPUB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import zmq
import zmq.asyncio

from bus import BackendStatus, Endpoints, Publisher, subscribe
from bus.codec import decode_event
from bus.endpoints import BACKEND_STATUS, COMPONENT_STATUS
from tests.fixtures.processes import event_proxy

DEADLINE = 10.0  # seconds for anything to arrive (2 busy cores)
BURST = 5000  # own events sent without the loop running: the new subscription comes meanwhile
NEW_TOPIC = "test.proxy-new-topic"  # a topic no subscriber had asked for


async def _until_received(
    sock: zmq.asyncio.Socket, publish: Callable[[], object], deadline: float = DEADLINE
) -> list[bytes]:
    """Call ``publish()`` until ``sock`` receives something (slow joiners), then return it."""
    async with asyncio.timeout(deadline):
        while True:
            publish()
            if await sock.poll(20):
                return await sock.recv_multipart()


async def test_own_events_reach_subscribers_from_the_xpub(any_endpoints: Endpoints) -> None:
    async with event_proxy(any_endpoints) as proxy:
        publisher = Publisher(any_endpoints.publish, send=proxy.send)
        sock = subscribe(zmq.asyncio.Context.instance(), any_endpoints.events, [BACKEND_STATUS])
        try:
            status = BackendStatus(state="running", port=8123)
            frames = await _until_received(
                sock, lambda: asyncio.ensure_future(publisher.publish(BACKEND_STATUS, status))
            )
            topic, event = decode_event(frames, BackendStatus)
            assert (topic, event.state, event.port) == (BACKEND_STATUS, "running", 8123)
            assert event.instance == publisher.instance
            assert publisher.seq(BACKEND_STATUS) >= event.seq >= 1
        finally:
            sock.close(linger=0)
            publisher.close()


async def test_other_publishers_events_are_forwarded(any_endpoints: Endpoints) -> None:
    async with event_proxy(any_endpoints) as _:
        other = Publisher(any_endpoints.publish)  # another process's: a PUB on the XSUB
        sock = subscribe(zmq.asyncio.Context.instance(), any_endpoints.events, [COMPONENT_STATUS])
        try:
            status = BackendStatus(state="stopped", port=0)
            frames = await _until_received(
                sock, lambda: asyncio.ensure_future(other.publish(COMPONENT_STATUS, status))
            )
            assert frames[0] == COMPONENT_STATUS.encode()
        finally:
            sock.close(linger=0)
            other.close()


async def test_subscription_reaches_publishers_although_main_sent_meanwhile(
    runtime_dir: Path,
) -> None:
    """A send on the XPUB may take its FD's signal for a subscription that has just come: the
    proxy must still pass that subscription on, or the other publisher's PUB never sends.

    A second subscriber joins (a topic nobody asked for before) while main sends a burst of its
    own events without the loop running in between, as a busy main may; the other publisher's
    events on that topic must then arrive.
    """
    bus = Endpoints(runtime_dir)
    context = zmq.asyncio.Context.instance()
    async with event_proxy(bus) as proxy:
        own = Publisher(bus.publish, send=proxy.send)
        other = Publisher(bus.publish)
        first = subscribe(context, bus.events, [COMPONENT_STATUS])
        second: zmq.asyncio.Socket | None = None
        status = BackendStatus(state="running", port=2)
        try:
            # The other publisher is connected and its events flow: only the new topic is new.
            await _until_received(
                first, lambda: asyncio.ensure_future(other.publish(COMPONENT_STATUS, status))
            )
            second = subscribe(context, bus.events, [NEW_TOPIC])
            for _ in range(BURST):
                proxy.send([BACKEND_STATUS.encode(), b"{}"])
            frames = await _until_received(
                second, lambda: asyncio.ensure_future(other.publish(NEW_TOPIC, status))
            )
            assert frames[0] == NEW_TOPIC.encode()
        finally:
            for sock in (first, second):
                if sock is not None:
                    sock.close(linger=0)
            own.close()
            other.close()


async def test_events_sent_before_stopping_still_arrive(any_endpoints: Endpoints) -> None:
    """The XPUB lingers on close: main's last event (``stopped``) reaches its subscribers."""
    sock = subscribe(zmq.asyncio.Context.instance(), any_endpoints.events, [BACKEND_STATUS])
    try:
        async with event_proxy(any_endpoints) as proxy:
            publisher = Publisher(any_endpoints.publish, send=proxy.send)
            running = BackendStatus(state="running", port=1)
            await _until_received(
                sock, lambda: asyncio.ensure_future(publisher.publish(BACKEND_STATUS, running))
            )
            while await sock.poll(0):
                await sock.recv_multipart()
            last = await publisher.publish(BACKEND_STATUS, BackendStatus(state="stopped", port=0))
        # The proxy has stopped; what it sent last arrives all the same.
        async with asyncio.timeout(DEADLINE):
            _, event = decode_event(await sock.recv_multipart(), BackendStatus)
        assert (event.state, event.seq) == ("stopped", last.seq)
    finally:
        sock.close(linger=0)


async def test_an_event_sent_once_the_proxy_has_stopped_is_dropped(runtime_dir: Path) -> None:
    """A status published during main's last steps, after its proxy stopped, is dropped as by a
    PUB socket nobody reads: no error (binding again, on the ended context, would raise)."""
    bus = Endpoints(runtime_dir)
    async with event_proxy(bus) as proxy:
        publisher = Publisher(bus.publish, send=proxy.send)
    stamped = await publisher.publish(BACKEND_STATUS, BackendStatus(state="stopped", port=0))
    assert (stamped.seq, stamped.state) == (1, "stopped")


async def test_a_subscriber_that_joins_late_gets_mains_latest_event_at_once(
    any_endpoints: Endpoints,
) -> None:
    """The slow joiner: main's event went out before the subscription arrived. Each subscriber
    that joins gets it then, with its seq (the last-value cache), without main sending again."""
    context = zmq.asyncio.Context.instance()
    async with event_proxy(any_endpoints) as proxy:
        publisher = Publisher(any_endpoints.publish, send=proxy.send)
        await publisher.publish(BACKEND_STATUS, BackendStatus(state="starting", port=1))
        sent = await publisher.publish(BACKEND_STATUS, BackendStatus(state="running", port=1))
        late = [subscribe(context, any_endpoints.events, [BACKEND_STATUS]) for _ in range(2)]
        try:
            for sock in late:  # the second one too: the XPUB passes every subscription
                async with asyncio.timeout(DEADLINE):
                    _, event = decode_event(await sock.recv_multipart(), BackendStatus)
                assert (event.state, event.seq) == ("running", sent.seq)
        finally:
            for sock in late:
                sock.close(linger=0)
            publisher.close()


async def test_a_prefix_is_subscribed_at_the_publishers_once(runtime_dir: Path) -> None:
    """Two subscribers of one topic: another publisher is asked for it once, and told to stop
    once both have left (it would otherwise send it to main for nobody, for ever)."""
    bus = Endpoints(runtime_dir)
    context = zmq.asyncio.Context.instance()
    async with event_proxy(bus) as proxy:
        other = context.socket(zmq.XPUB)  # another process's publisher, reading subscriptions
        other.connect(bus.publish)
        proxy.send([NEW_TOPIC.encode(), b"{}"])  # what each gets once its subscription is in
        subscribers = [subscribe(context, bus.events, [NEW_TOPIC]) for _ in range(2)]
        try:
            async with asyncio.timeout(DEADLINE):
                for sock in subscribers:
                    await sock.recv_multipart()
                assert await other.recv() == b"\x01" + NEW_TOPIC.encode()
                for sock in subscribers:
                    sock.close(linger=0)
                assert await other.recv() == b"\x00" + NEW_TOPIC.encode()  # not a 2nd subscribe
        finally:
            for sock in subscribers:
                sock.close(linger=0)
            other.close(linger=0)
