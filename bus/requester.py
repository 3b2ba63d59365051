"""REQ clients with the Lazy Pirate pattern, in asyncio and blocking flavours.

Each attempt sends the request and waits for the reply with a timeout (the socket's ``RCVTIMEO``).
On a timeout the socket is closed with ``LINGER=0`` (a REQ socket that missed its reply is stuck), a
fresh one is opened and the same request (same id: the replier answers a resend from its reply
cache, so the op never runs twice) goes out again. After ``retries`` attempts in all,
:class:`BusTimeout`. Any other zmq error is a
:class:`TransportError`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import msgspec
import zmq
import zmq.asyncio

from bus import curve, endpoints
from bus.codec import decode_reply, encode_request
from bus.errors import BusTimeout, TransportError
from bus.frames import receive_frames
from bus.ops import Op

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)
S = TypeVar("S", bound=zmq.Socket[Any])


class _RequestIds:
    """Request ids: a random prefix per process and a counter (a uuid4 per call is a syscall)."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # a forked child must not reuse ids

    def reseed(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()


def new_request_id() -> str:
    """A fresh request id: unique, so a resend can be told from a new request."""
    return _request_ids()


def _configure(sock: zmq.Socket[Any], address: str, timeout: float) -> None:
    # The receive timeout is the Lazy Pirate poll: cheaper than a poll then a receive (one wait
    # instead of two, and no poller object per call in the asyncio flavour).
    sock.setsockopt(zmq.RCVTIMEO, max(1, int(timeout * 1000)))
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
    curve.protect_client(sock, address)
    sock.connect(address)


class _LazyPirate(Generic[S]):
    """What both flavours share: the settings, the one REQ socket, and the retry loop.

    Each flavour writes one attempt: ``for sock in self._attempts(): with self._attempt():``
    send, receive, return. :meth:`_attempt` turns a missed reply into the next attempt (the
    socket is reopened), maps any other zmq error to :class:`TransportError`, and after the
    last attempt the caller raises :meth:`_timeout`.
    """

    def __init__(self, address: str, context: zmq.Context[S], timeout: float, retries: int) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = max(1, retries)
        self._context = context
        self._socket: S | None = None

    def _attempts(self) -> Iterator[S]:
        """The socket of each attempt, reopened after a miss; ``retries`` of them."""
        for _ in range(self.retries):
            if self._socket is None:
                self._socket = self._context.socket(zmq.REQ)
                _configure(self._socket, self.address, self.timeout)
            yield self._socket

    def _attempt(self, op: Op[Any, Any]) -> _Attempt:
        return _Attempt(self, op)

    def _timeout(self, op: Op[Any, Any]) -> BusTimeout:
        return BusTimeout(
            f"no reply from {self.address} to {op.name!r} after {self.retries} attempt(s) of "
            f"{self.timeout:g}s; is the ctxbus process behind it running? (`ctxbus status`, "
            "`ctxbus up`)"
        )

    def _discard(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        """Close the socket; the requester reopens one on the next call."""
        self._discard()


class _Attempt:
    """One attempt's outcome: a missed reply reopens the socket for the next attempt, any other
    zmq error is a :class:`TransportError`. (A class: ``@contextmanager`` cost a generator and
    two of its steps per call.)"""

    __slots__ = ("_op", "_pirate")

    def __init__(self, pirate: _LazyPirate[Any], op: Op[Any, Any]) -> None:
        self._pirate = pirate
        self._op = op

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        if exc is None:
            return False
        self._pirate._discard()  # a REQ socket that missed its reply, or failed, is stuck
        if isinstance(exc, zmq.Again):
            return True  # the next attempt
        if isinstance(exc, zmq.ZMQError):
            where = f"{self._op.name!r} to {self._pirate.address}"
            raise TransportError(f"{where} failed: {exc}") from exc
        return False


class AsyncRequester(_LazyPirate[zmq.asyncio.Socket]):
    """An asyncio REQ client; one request at a time per instance (others queue on a lock)."""

    def __init__(
        self,
        address: str,
        *,
        context: zmq.asyncio.Context | None = None,
        timeout: float = endpoints.REQUEST_TIMEOUT,
        retries: int = endpoints.REQUEST_RETRIES,
    ) -> None:
        super().__init__(address, context or zmq.asyncio.Context.instance(), timeout, retries)
        self._lock = asyncio.Lock()

    async def call(self, op: Op[A, R], args: A | None = None) -> R:
        """Send ``op`` and return its result; :class:`~bus.errors.RemoteError` on an error reply."""
        request_id = new_request_id()
        frame = encode_request(request_id, op.name, args)
        async with self._lock:
            for sock in self._attempts():
                with self._attempt(op):
                    await sock.send(frame)
                    frames = await sock.recv_multipart()  # RCVTIMEO bounds the wait
                    return decode_reply(frames, request_id, op.result)
        raise self._timeout(op)


class Requester(_LazyPirate[zmq.Socket[bytes]]):
    """The blocking twin of :class:`AsyncRequester`, for scripts and synchronous tools."""

    def __init__(
        self,
        address: str,
        *,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        timeout: float = endpoints.REQUEST_TIMEOUT,
        retries: int = endpoints.REQUEST_RETRIES,
    ) -> None:
        super().__init__(address, context or zmq.Context.instance(), timeout, retries)

    def call(self, op: Op[A, R], args: A | None = None) -> R:
        """Send ``op`` and return its result; :class:`~bus.errors.RemoteError` on an error reply."""
        request_id = new_request_id()
        frame = encode_request(request_id, op.name, args)
        for sock in self._attempts():
            with self._attempt(op):
                sock.send(frame)
                return decode_reply(receive_frames(sock, 0), request_id, op.result)
        raise self._timeout(op)
