"""The publishing side of events: a PUB socket that owns each topic's ``seq``.

Publishers connect to main's XSUB endpoint (``publish.sock``); subscribers connect to the XPUB
endpoint (``events.sock``). Main's own publisher sends on that XPUB itself (``send=proxy.send``,
see :mod:`bus.proxy`). ``seq`` starts at 1 and rises by exactly 1 per topic for the life of
one publisher ``instance``; the latest event of each topic is kept for ``get_status`` snapshots.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import msgspec
import zmq
import zmq.asyncio

from bus import curve, endpoints
from bus.codec import encode_event
from bus.frames import send_frames
from bus.messages import Event

E = TypeVar("E", bound=Event)


def new_instance_id() -> str:
    """A fresh publisher instance id."""
    return uuid.uuid4().hex[:16]


class Publisher:
    """Stamp events with ``seq``/``instance``/``ts`` and send them."""

    def __init__(
        self,
        address: str,
        *,
        instance: str | None = None,
        context: zmq.asyncio.Context | None = None,
        send: Callable[[list[bytes]], None] | None = None,
    ) -> None:
        """``send``: where the encoded frames go instead of a PUB socket of this publisher's own
        (main's :meth:`~bus.proxy.Proxy.send`); ``address`` and ``context`` are then unused."""
        self.address = address
        self.instance = instance or new_instance_id()
        self._context = context or zmq.asyncio.Context.instance()
        self._seq: dict[str, int] = {}
        self._latest: dict[str, Event] = {}
        self._socket: zmq.Socket[bytes] | None = None
        self._send = send

    def connect(self) -> None:
        if self._socket is None and self._send is None:
            # A plain socket: a PUB send never blocks (past SNDHWM it drops), so the asyncio
            # socket's future per send bought nothing but latency.
            sock: zmq.Socket[bytes] = zmq.Socket(self._context, zmq.PUB)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, endpoints.EVENT_HWM)
            curve.protect_client(sock, self.address)
            sock.connect(self.address)
            self._socket = sock

    def stamp(self, topic: str, event: E) -> E:
        """``event`` with the topic's next ``seq``, this instance and the time; kept as latest."""
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        stamped = msgspec.structs.replace(event, seq=seq, instance=self.instance, ts=time.time())
        self._latest[topic] = stamped
        return stamped

    async def publish(self, topic: str, event: E) -> E:
        """Stamp and send ``event`` on ``topic``; returns the stamped event."""
        stamped = self.stamp(topic, event)
        frames = encode_event(topic, stamped)
        if self._send is not None:
            self._send(frames)
            return stamped
        self.connect()
        assert self._socket is not None
        send_frames(self._socket, frames)
        return stamped

    async def heartbeat(self, topic: str, beat: Callable[[], Event]) -> None:
        """Publish ``beat()`` on ``topic`` every ``HEARTBEAT_INTERVAL`` until cancelled.

        A heartbeat carries the seq of the state topic it vouches for, so a follower that
        missed the last change of that state notices and re-syncs (the Clone pattern).
        """
        while True:
            await self.publish(topic, beat())
            await asyncio.sleep(endpoints.HEARTBEAT_INTERVAL)  # the heartbeat's period

    def seq(self, topic: str) -> int:
        """The latest ``seq`` published on ``topic`` (0 before the first)."""
        return self._seq.get(topic, 0)

    def latest(self, topic: str) -> Event | None:
        """The latest event published on ``topic``: the Clone pattern's snapshot."""
        return self._latest.get(topic)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
