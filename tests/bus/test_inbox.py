"""A follower's inbox while nobody waits on it: no busy loop, and nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq

from bus.subscriber import _Inbox
from tests.bus.conftest import READY_TIMEOUT

IDLE = 0.2  # seconds with a message queued and no waiter: a busy loop wakes thousands of times
MOST_WAKES = 10  # what the loop may reasonably wake the inbox in that time without a busy loop
SEND_EVERY = 0.01  # seconds between sends until the subscription has reached the publisher
DRAIN = 0.1  # seconds of quiet after which no more of those sends is on its way


class CountingInbox(_Inbox):
    """An inbox that counts the event loop's calls of its reader."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.wakes = 0
        self.woken = asyncio.Event()
        super().__init__(sock)

    def _wake(self, readable: bool) -> None:
        self.wakes += 1
        self.woken.set()
        super()._wake(readable)


async def test_an_inbox_nobody_waits_on_does_not_spin_and_keeps_its_message(
    tmp_path: Path,
) -> None:
    """A message comes while the follower is busy elsewhere: no busy loop; the next wait gets it."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    address = f"ipc://{tmp_path}/events.sock"
    pub = context.socket(zmq.PUB)
    pub.bind(address)
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(address)
    inbox = CountingInbox(sub)
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            while await inbox.receive(timeout=SEND_EVERY) is None:  # the slow joiner
                pub.send(b"joined?")
            while await inbox.receive(timeout=DRAIN) is not None:  # the extra ones
                pass
            inbox.woken.clear()
            pub.send(b"hello")  # nobody waits: it stays queued
            await inbox.woken.wait()  # the loop has seen it come
        before = inbox.wakes
        await asyncio.sleep(IDLE)  # sleep-ok: the window in which a busy loop would show
        assert inbox.wakes - before < MOST_WAKES
        assert await inbox.receive(timeout=READY_TIMEOUT) == [b"hello"]
    finally:
        inbox.close()
        pub.close(linger=0)
        context.destroy(linger=0)
