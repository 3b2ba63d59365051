"""The XSUB/XPUB forwarder that joins every publisher to every subscriber.

Main runs it: publishers connect to ``publish.sock`` (XSUB), subscribers to ``events.sock`` (XPUB).
The forwarding itself is libzmq's ``zmq_proxy_steerable``, a blocking call, so it runs in a worker
thread; ``stop()`` steers it to TERMINATE.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import zmq

from bus import endpoints


class Proxy:
    """Forward events from ``publish_address`` to ``events_address`` until stopped."""

    def __init__(self, publish_address: str, events_address: str) -> None:
        self.publish_address = publish_address
        self.events_address = events_address
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._control = f"inproc://proxy-control-{uuid.uuid4().hex}"
        self._bound = asyncio.Event()

    def _forward(self, loop: asyncio.AbstractEventLoop) -> None:
        xsub = self._context.socket(zmq.XSUB)
        xpub = self._context.socket(zmq.XPUB)
        control = self._context.socket(zmq.PAIR)
        try:
            for sock in (xsub, xpub, control):
                sock.setsockopt(zmq.LINGER, 0)
            xsub.setsockopt(zmq.RCVHWM, endpoints.EVENT_HWM)
            xpub.setsockopt(zmq.SNDHWM, endpoints.EVENT_HWM)
            xsub.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
            old_umask = os.umask(0o077)
            try:
                xsub.bind(self.publish_address)
                xpub.bind(self.events_address)
            finally:
                os.umask(old_umask)
            control.bind(self._control)
            loop.call_soon_threadsafe(self._bound.set)
            zmq.proxy_steerable(xsub, xpub, None, control)
        finally:
            for sock in (xsub, xpub, control):
                sock.close(linger=0)

    async def run(self) -> None:
        """Bind both endpoints and forward until :meth:`stop` (or cancellation)."""
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(asyncio.to_thread(self._forward, loop))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            self.stop()
            await task
            raise
        finally:
            self._context.term()

    async def wait_bound(self) -> None:
        """Return once both endpoints are bound."""
        await self._bound.wait()

    def stop(self) -> None:
        """Tell the forwarding thread to end."""
        sock = self._context.socket(zmq.PAIR)
        try:
            sock.setsockopt(zmq.LINGER, 1000)
            sock.connect(self._control)
            sock.send(b"TERMINATE")
        finally:
            sock.close()
