"""The XSUB/XPUB forwarder that joins every publisher to every subscriber.

Main runs it: publishers connect to ``publish.sock`` (XSUB), subscribers to ``events.sock`` (XPUB).
The forwarding itself is libzmq's ``zmq_proxy``, a blocking call, so it runs in a worker thread
with a context of its own. Stopping terminates that context: the proxy call returns ``ETERM``,
the thread closes its sockets, and the termination completes. (Steering the proxy with a
TERMINATE message on a control socket proved racy with libzmq 4.3.5.)
"""

from __future__ import annotations

import asyncio
import os

import zmq

from bus import curve, endpoints


class Proxy:
    """Forward events from ``publish_address`` to ``events_address`` until cancelled."""

    def __init__(self, publish_address: str, events_address: str) -> None:
        self.publish_address = publish_address
        self.events_address = events_address
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._bound = asyncio.Event()
        self._failed: BaseException | None = None

    def _forward(self, loop: asyncio.AbstractEventLoop) -> None:
        xsub = self._context.socket(zmq.XSUB)
        xpub = self._context.socket(zmq.XPUB)
        try:
            for sock in (xsub, xpub):
                sock.setsockopt(zmq.LINGER, 0)
            xsub.setsockopt(zmq.RCVHWM, endpoints.EVENT_HWM)
            xpub.setsockopt(zmq.SNDHWM, endpoints.EVENT_HWM)
            xsub.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
            curve.protect_server(xsub, self.publish_address)
            curve.protect_server(xpub, self.events_address)
            old_umask = os.umask(0o077)
            try:
                xsub.bind(self.publish_address)
                xpub.bind(self.events_address)
            finally:
                os.umask(old_umask)
            loop.call_soon_threadsafe(self._bound.set)
            zmq.proxy(xsub, xpub)
        except zmq.ContextTerminated:
            pass
        except BaseException as exc:
            self._failed = exc
            loop.call_soon_threadsafe(self._bound.set)
            raise
        finally:
            xsub.close(linger=0)
            # Events already forwarded still reach their subscribers while the context ends.
            xpub.close(linger=endpoints.CLOSE_LINGER_MS)

    async def run(self) -> None:
        """Bind both endpoints and forward until cancelled."""
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(asyncio.to_thread(self._forward, loop))
        try:
            await asyncio.shield(task)
        finally:
            await asyncio.to_thread(curve.release, self._context)  # its ZAP thread, if tcp
            await asyncio.to_thread(self._context.term)
            await asyncio.gather(task, return_exceptions=True)

    async def wait_bound(self) -> None:
        """Return once both endpoints are bound; raise what stopped the binding, if anything."""
        await self._bound.wait()
        if self._failed is not None:
            raise self._failed
