"""main's event hub: its own events go straight out; everyone else's are forwarded.

Main runs it: publishers connect to ``publish.sock`` (XSUB), subscribers to ``events.sock`` (XPUB).
As the Clone pattern's server has it, the state's owner publishes on the socket its subscribers
read: main's own events (``backend.status``, its heartbeat) are sent on the XPUB itself
(:meth:`Proxy.send`, a :class:`~bus.publisher.Publisher` made with ``send=proxy.send``), with no
hop through another socket or thread. Other processes' events (the launcher's, capture's) come in
on the XSUB and are forwarded, and subscriptions go the other way, so that their PUB sockets send
only what someone reads.

The forwarding runs in the event loop, on readers of the two sockets' FDs: a zmq FD only says
that the socket's state may have changed, and any call on the socket (a send, too) may take that
signal, so every wake-up and every own send drains both sockets until neither has a message.
Nothing blocks: an XPUB drops past ``EVENT_HWM`` for a subscriber that does not read, and a
subscription the XSUB cannot pass on now is dropped with a warning (libzmq resends the XSUB's
subscriptions to every publisher that connects).

A last-value cache (the ZeroMQ guide's, chapter 5) closes the slow joiner's gap for main's own
topics: a subscription arrives some time after its SUB connects (over ipc, up to a reconnect
interval after main binds), and an event sent meanwhile never reaches it. So each subscription
to a topic of main's brings that topic's latest event again (and main's heartbeat, which names
the state's ``seq``): a follower that missed a change learns of it at once, not at the next
heartbeat, and one that had it drops the repeat by its ``seq``. The XPUB passes every
subscription (``XPUB_VERBOSE``); a prefix is passed on to the publishers only once.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, cast

import structlog
import zmq

from bus import curve, endpoints
from bus.frames import receive_frames, send_frames

log = structlog.get_logger(__name__)

# Plain ints: pyzmq's constants are enums, and enum arithmetic per message showed in profiles.
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
_DRAIN_BATCH = 256  # messages forwarded per wake-up before the loop may run something else


class Proxy:
    """Publish main's events and forward everyone else's, from ``publish_address`` to
    ``events_address``, until cancelled."""

    def __init__(self, publish_address: str, events_address: str) -> None:
        self.publish_address = publish_address
        self.events_address = events_address
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._xsub: zmq.Socket[bytes] | None = None
        self._xpub: zmq.Socket[bytes] | None = None
        self._bound = asyncio.Event()
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_scheduled = False
        self._stopped = False  # run() has ended: its context is gone, nothing is sent any more
        self._latest: dict[bytes, list[bytes]] = {}  # main's own topics: the last event of each
        self._upstream: set[bytes] = set()  # prefixes subscribed at the publishers

    def bind(self) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
        """Bind both endpoints, once; the XSUB and the XPUB. Raises what stops it."""
        if self._xsub is not None and self._xpub is not None:
            return self._xsub, self._xpub
        xsub = self._context.socket(zmq.XSUB)
        xpub = self._context.socket(zmq.XPUB)
        try:
            for sock in (xsub, xpub):
                sock.setsockopt(zmq.LINGER, 0)
            xsub.setsockopt(zmq.RCVHWM, endpoints.EVENT_HWM)
            xpub.setsockopt(zmq.SNDHWM, endpoints.EVENT_HWM)
            xpub.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription: each gets the latest
            xsub.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
            curve.protect_server(xsub, self.publish_address)
            curve.protect_server(xpub, self.events_address)
            old_umask = os.umask(0o077)
            try:
                xsub.bind(self.publish_address)
                xpub.bind(self.events_address)
            finally:
                os.umask(old_umask)
        except BaseException:
            xsub.close(linger=0)
            xpub.close(linger=0)
            raise
        self._xsub, self._xpub = xsub, xpub
        return xsub, xpub

    def send(self, frames: list[bytes]) -> None:
        """Send one event of main's own to every subscriber of its topic (dropped for one whose
        queue is full, as PUB does); binds first if :meth:`run` has not yet, and drops it once
        :meth:`run` has ended (as a PUB socket with nobody connected would)."""
        if self._stopped:
            return
        _, xpub = self.bind()
        self._latest[frames[0]] = frames
        _send(xpub, frames, "event_dropped")
        # The send may have taken the XPUB's FD signal for a subscription that came meanwhile.
        self._schedule_drain()

    async def run(self) -> None:
        """Bind both endpoints and forward until cancelled; then close, delivering what main
        has sent for up to ``CLOSE_LINGER_MS``."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            xsub, xpub = self.bind()
        except BaseException as exc:
            self._failed = exc
            self._stopped = True
            self._bound.set()
            self._context.term()
            raise
        for sock in (xsub, xpub):
            loop.add_reader(sock.fileno(), self._drain)
        self._bound.set()
        self._drain()  # what came before the readers
        try:
            await asyncio.Future()  # forwarding happens in the readers
        finally:
            for sock in (xsub, xpub):
                loop.remove_reader(sock.fileno())
            xsub.close(linger=0)
            # Events already sent still reach their subscribers while the context ends.
            xpub.close(linger=endpoints.CLOSE_LINGER_MS)
            self._xsub = self._xpub = None
            self._stopped = True
            await asyncio.to_thread(curve.release, self._context)  # its ZAP thread, if tcp
            await asyncio.to_thread(self._context.term)

    async def wait_bound(self) -> None:
        """Return once both endpoints are bound; raise what stopped the binding, if anything."""
        await self._bound.wait()
        if self._failed is not None:
            raise self._failed

    def _schedule_drain(self) -> None:
        if self._loop is not None and not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Forward events down and subscriptions up until neither socket has a message."""
        self._drain_scheduled = False
        xsub, xpub = self._xsub, self._xpub
        if xsub is None or xpub is None:
            return
        moved = 0
        while moved < _DRAIN_BATCH:
            down = _forward(xsub, xpub, "event_dropped")
            up = self._subscription(xpub, xsub)
            if not (down or up):
                return
            moved += 1
        self._schedule_drain()  # more to come: after whatever else the loop has to run

    def _subscription(self, xpub: zmq.Socket[Any], xsub: zmq.Socket[Any]) -> bool:
        """Take one (un)subscription: answer it from the cache, pass it on if it is new; False
        if there was none."""
        if not cast(int, xpub.getsockopt(_EVENTS)) & _POLLIN:
            return False
        frames = receive_frames(xpub)
        subscribe, prefix = frames[0][:1] == b"\x01", frames[0][1:]
        if subscribe:
            for topic, latest in self._latest.items():
                if topic.startswith(prefix):
                    _send(xpub, latest, "event_dropped")  # to every subscriber: a repeat by seq
            if prefix in self._upstream:
                return True
            self._upstream.add(prefix)
        else:  # the prefix's last subscriber left (XPUB passes no other unsubscription)
            self._upstream.discard(prefix)
        _send(xsub, frames, "subscription_dropped")
        return True


def _forward(source: zmq.Socket[Any], sink: zmq.Socket[Any], dropped: str) -> bool:
    """Pass one message from ``source`` to ``sink``; False if ``source`` had none."""
    if not cast(int, source.getsockopt(_EVENTS)) & _POLLIN:
        return False
    _send(sink, receive_frames(source), dropped)
    return True


def _send(sink: zmq.Socket[Any], frames: list[bytes], dropped: str) -> None:
    """Send ``frames`` without blocking; a full queue drops them, logged as ``dropped``."""
    try:
        send_frames(sink, frames)
    except zmq.Again:
        log.warning(dropped, topic=frames[0][:64].decode(errors="replace"))
