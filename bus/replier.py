"""The serve loop behind a REP endpoint: dispatch ops to handlers, answer everything exactly once.

The socket is a ROUTER (wire-compatible with REQ clients) so that a slow handler does not hold up
other clients. Whatever arrives, malformed, oversized, multipart or hostile, gets exactly one reply
(``docs/protocol.md`` lists the error codes) and leaves the server as it was. A request resent by a
Lazy Pirate client (same id, same body) within ``REPLY_CACHE_TTL`` gets the first reply again and
does not run the op twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import msgspec
import structlog
import zmq
import zmq.asyncio

from bus import curve, endpoints
from bus.codec import decode_args, decode_request, encode_error, encode_ok, probe_id
from bus.eager import EagerStarter
from bus.errors import NO_READER, OpError, ProtocolError, SetupError
from bus.frames import receive_frames, send_frames
from bus.messages import Request
from bus.ops import Op

log = structlog.get_logger("bus.replier")

# Plain ints: pyzmq's constants are enums, and enum arithmetic per message showed in profiles.
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
DRAIN_BATCH = 64  # requests read in one go before other tasks get a turn
MAX_QUEUED = 1024  # requests waiting for an in-flight slot, per endpoint, before ``busy``

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)


class _Route(msgspec.Struct, frozen=True):
    args_type: type[msgspec.Struct]
    handler: Callable[[Any], Awaitable[msgspec.Struct]]


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """ROUTER frames → (envelope to send back, body frames).

    A REQ peer sends ``[identity, b"", body...]``; a DEALER may omit the empty delimiter.
    """
    if b"" in frames[1:]:
        cut = frames.index(b"", 1) + 1
        return frames[:cut], frames[cut:]
    return frames[:1], frames[1:]


def _id_of(request: Request | None, body: list[bytes]) -> str | None:
    """The id an error reply carries: the request's, or what can be read of a malformed one."""
    return request.id if request is not None else probe_id(body)


class ReplyCache:
    """Replies by a digest of the request body, so a Lazy Pirate resend gets the first answer."""

    def __init__(self, ttl: float = endpoints.REPLY_CACHE_TTL, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[bytes, tuple[float, asyncio.Future[bytes]]] = OrderedDict()

    def get(self, key: bytes) -> asyncio.Future[bytes] | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, key: bytes, future: asyncio.Future[bytes]) -> None:
        self._entries[key] = (time.monotonic(), future)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class Replier:
    """Serve ops on ``address`` until cancelled."""

    def __init__(
        self,
        address: str,
        *,
        context: zmq.asyncio.Context | None = None,
        max_in_flight: int = endpoints.MAX_IN_FLIGHT,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.address = address
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self._queued: deque[tuple[list[bytes], list[bytes]]] = deque()
        self._context = context or zmq.asyncio.Context.instance()
        self._routes: dict[str, _Route] = {}
        self._cache = ReplyCache()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._in_flight = 0  # answers started and not finished (a task's done callback is later)
        self._socket: zmq.Socket[bytes] | None = None
        self._reading = False  # within ``_on_readable``, which looks for input after each reply
        self._eager = EagerStarter()

    def register(self, op: Op[A, R], handler: Callable[[A], Awaitable[R]]) -> None:
        """Answer ``op`` with ``handler(args)``; it raises :class:`OpError` for an error reply."""
        self._routes[op.name] = _Route(op.args, handler)

    @property
    def ops(self) -> list[str]:
        return sorted(self._routes)

    def bind(self) -> None:
        """Bind the socket now (ipc files are created private); ``serve`` binds if not yet done."""
        if self._socket is not None:
            return
        # A plain socket driven by the loop's reader on its FD: pyzmq's asyncio socket costs a
        # future and a poller round per message, which was most of the replier's latency.
        sock: zmq.Socket[bytes] = zmq.Socket(self._context, zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        curve.protect_server(sock, self.address)
        old_umask = os.umask(0o077)
        try:
            sock.bind(self.address)
        finally:
            os.umask(old_umask)
        self._socket = sock

    async def serve(self) -> None:
        """Receive and answer requests until cancelled; then close the socket."""
        self.bind()
        sock = self._socket
        assert sock is not None
        loop = asyncio.get_running_loop()
        fd = sock.fileno()
        try:
            loop.add_reader(fd, self._on_readable)
        except NotImplementedError as exc:  # Windows' proactor loop watches no sockets
            sock.close(linger=0)
            self._socket = None
            raise SetupError(NO_READER) from exc
        loop.call_soon(self._on_readable)  # requests that came in before the reader was added
        try:
            await loop.create_future()  # the reader does the work; this waits for cancellation
        finally:
            loop.remove_reader(fd)
            self._eager.close()
            self._queued.clear()
            for task in self._tasks:
                task.cancel()
            # Replies already queued (say, to ``shutdown``) still go out: the owner's
            # ``context.destroy()``/``term()`` at exit waits for them, up to this linger.
            sock.close(linger=endpoints.CLOSE_LINGER_MS)
            self._socket = None

    def _on_readable(self) -> None:
        """Start an answer for each waiting request, up to a batch; then let other tasks run.

        The socket's FD only signals that its state changed, so ``EVENTS`` is the truth: read
        until it shows no more input, or come back for the rest after the loop's other work.
        A request that finds every in-flight slot taken waits in a queue of up to
        ``MAX_QUEUED`` and is started, in turn, as a slot frees: a burst of quick requests is
        answered in full; ``busy`` is only for requests beyond that, stuck behind slow handlers.
        """
        sock = self._socket
        if sock is None:
            return
        self._reading = True
        try:
            for index in range(DRAIN_BATCH):
                # A wake-up is most often a request: read at once, ask EVENTS after the first.
                if index and not cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
                    return
                try:
                    frames = receive_frames(sock)
                except zmq.Again:
                    continue  # woken by another change of state; EVENTS then says what is left
                envelope, body = split_envelope(frames)
                self._start(envelope, body, at_once=index == 0)
        finally:
            self._reading = False
        asyncio.get_running_loop().call_soon(self._on_readable)

    def _send(self, envelope: list[bytes], reply: bytes) -> None:
        """Queue one reply; a ROUTER never blocks (it drops replies to peers that are gone)."""
        sock = self._socket
        if sock is None:
            return
        try:
            send_frames(sock, [*envelope, reply])
        except zmq.ZMQError as exc:
            log.warning("reply_dropped", address=self.address, error=str(exc))
        if not self._reading:
            # Sending can consume the FD's edge for input that arrived meanwhile: look again
            # (``_on_readable`` looks anyway when the reply went out from its own pass).
            asyncio.get_running_loop().call_soon(self._on_readable)

    def _start(self, envelope: list[bytes], body: list[bytes], *, at_once: bool = False) -> None:
        """Answer now if a slot is free, else queue (answered in turn), else ``busy``.

        ``at_once`` (the first request of a pass of ``_on_readable``) runs the answer eagerly:
        a lone request whose handler does not wait is answered in the pass that read it. The
        rest of a burst is started as tasks, which take their slots until the loop runs them.
        """
        if self._in_flight < self.max_in_flight:
            self._in_flight += 1
            answer = self._answer(envelope, body)
            task = self._eager.start(answer) if at_once else asyncio.create_task(answer)
            if task is not None:
                self._track(task)
        elif len(self._queued) < self.max_queued:
            self._queued.append((envelope, body))
        else:
            reply = encode_error(
                probe_id(body), "busy", "too many requests in flight and queued; retry shortly"
            )
            self._send(envelope, reply)

    def _next_queued(self) -> None:
        """A slot was freed: start the oldest queued request."""
        if self._queued and self._socket is not None:
            self._start(*self._queued.popleft())

    def _track(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, envelope: list[bytes], body: list[bytes]) -> None:
        try:
            self._send(envelope, await self._reply_to(body))
        finally:
            self._in_flight -= 1
            self._next_queued()

    async def _reply_to(self, body: list[bytes]) -> bytes:
        """The reply: from the cache for a resend (same body), else from :meth:`handle`."""
        key = hashlib.blake2b(body[0], digest_size=16).digest() if len(body) == 1 else None
        cached = self._cache.get(key) if key is not None else None
        if cached is not None:
            return await asyncio.shield(cached)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if key is not None:
            self._cache.put(key, future)
        reply = await self.handle(body)
        future.set_result(reply)
        return reply

    def _route(self, op: str) -> _Route:
        route = self._routes.get(op)
        if route is None:
            answers = ", ".join(self.ops)
            raise ProtocolError("unknown_op", f"unknown op {op!r}; this endpoint answers {answers}")
        return route

    async def handle(self, body: list[bytes]) -> bytes:
        """The reply frame for one request body; never raises."""
        request: Request | None = None
        try:
            request = decode_request(body)
            route = self._route(request.op)
            args = decode_args(request, route.args_type)
            result = await route.handler(args)
            return encode_ok(request.id, result)
        except (ProtocolError, OpError) as exc:
            return encode_error(_id_of(request, body), exc.code, exc.message)
        except Exception:
            log.exception("handler_failed", address=self.address)
            message = "internal error; see the server's log"
            return encode_error(_id_of(request, body), "internal", message)

    async def drain(self) -> None:
        """Wait until every request received so far has been answered (before a planned exit)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
