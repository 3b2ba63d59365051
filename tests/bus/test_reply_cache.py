"""The replier's reply cache, with the replier kept alive: a resent request runs its op once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import zmq
import zmq.asyncio

from bus import Endpoints, Message, NoArgs, Replier, decode_reply, encode_request
from bus.ops import Op

REPLY_TIMEOUT = 10.0


class Calls(Message, kw_only=True):
    """How many times the handler had run when it answered."""

    calls: int


COUNT = Op("count", NoArgs, Calls)  # a test op: counts its runs


@dataclass
class Counter:
    """A handler that counts its runs; the first run waits until released (a slow op)."""

    calls: int = 0
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, _: NoArgs) -> Calls:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return Calls(calls=self.calls)


@pytest.fixture
async def counter(endpoints: Endpoints) -> AsyncIterator[Counter]:
    """A live replier on the control endpoint answering ``count``, for the whole test."""
    handler = Counter()
    replier = Replier(endpoints.control)
    replier.register(COUNT, handler)
    replier.bind()
    serving = asyncio.ensure_future(replier.serve())
    yield handler
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)


def fresh_socket(endpoints: Endpoints) -> zmq.asyncio.Socket:
    """A new REQ socket, as a Lazy Pirate client opens one for each resend."""
    sock = zmq.asyncio.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoints.control)
    return sock


async def reply(sock: zmq.asyncio.Socket) -> bytes:
    async with asyncio.timeout(REPLY_TIMEOUT):
        frames = await sock.recv_multipart()
    sock.close(linger=0)
    return bytes(frames[0])


async def test_a_resend_while_the_op_runs_gets_the_same_reply_and_runs_nothing(
    endpoints: Endpoints, counter: Counter
) -> None:
    """Same request resent on a fresh socket while the first runs: one run, one reply for both."""
    frame = encode_request("resent-1", COUNT.name)
    first, second = fresh_socket(endpoints), fresh_socket(endpoints)
    await first.send(frame)
    async with asyncio.timeout(REPLY_TIMEOUT):
        await counter.entered.wait()
    await second.send(frame)
    counter.release.set()
    replies = await asyncio.gather(reply(first), reply(second))
    assert replies[0] == replies[1]
    assert decode_reply([replies[0]], "resent-1", Calls).calls == 1
    assert counter.calls == 1


async def test_a_resend_after_the_reply_gets_it_again_and_runs_nothing(
    endpoints: Endpoints, counter: Counter
) -> None:
    """Same request resent after it was answered: the cached reply; a new id runs the op again."""
    counter.release.set()
    frame = encode_request("resent-2", COUNT.name)
    sock = fresh_socket(endpoints)
    await sock.send(frame)
    answered = await reply(sock)
    sock = fresh_socket(endpoints)
    await sock.send(frame)
    assert await reply(sock) == answered
    assert counter.calls == 1
    sock = fresh_socket(endpoints)
    await sock.send(encode_request("another-id", COUNT.name))
    assert decode_reply([await reply(sock)], "another-id", Calls).calls == 2
