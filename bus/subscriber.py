"""Late-joining subscribers that never miss or double-apply a state change (the Clone pattern).

:class:`StateFollower` subscribes first, then asks the topic's owner for a snapshot (the latest
event with its ``seq``), then applies only events with the next ``seq``. A gap, an event from a new
publisher instance, or a heartbeat announcing a ``seq`` beyond ours triggers a re-sync from a
fresh snapshot. No heartbeat for ``HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS`` means the publisher is
gone; its next heartbeat means it is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, cast

import zmq
import zmq.asyncio

from bus import endpoints
from bus.codec import decode_event
from bus.errors import NO_READER, BadReply, BusError, SetupError
from bus.messages import Event, Heartbeat

E = TypeVar("E", bound=Event)

# Plain ints: pyzmq's constants are enums, and enum arithmetic per message showed in profiles.
_EVENTS, _POLLIN, _NOBLOCK = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.NOBLOCK)
UpdateKind = Literal["snapshot", "event", "resync", "lost", "back"]


@dataclass(frozen=True, slots=True)
class Update(Generic[E]):
    """One step of a followed state: a new state (``event`` set) or a liveness change."""

    kind: UpdateKind
    event: E | None = None


def _backend_seq(heartbeat: Heartbeat) -> int:
    return heartbeat.backend_seq


@dataclass(frozen=True, slots=True)
class HeartbeatRule:
    """Which topic carries the owner's heartbeat and how to read the followed topic's seq off it."""

    topic: str = endpoints.MAIN_HEARTBEAT
    seq_of: Callable[[Heartbeat], int] = _backend_seq
    liveness: float = endpoints.HEARTBEAT_INTERVAL * endpoints.HEARTBEAT_LIVENESS


class _Inbox:
    """Receive from a plain zmq socket through the event loop's reader on its FD.

    Cheaper per message than pyzmq's asyncio socket (no future, timer and reader registration
    per receive). The FD only says the socket's state may have changed: ``EVENTS`` is the truth,
    checked after the wake-up flag is cleared so that no wake-up is lost in between.
    """

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self._sock = sock
        self._readable = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            self._loop.add_reader(sock.fileno(), self._readable.set)
        except NotImplementedError as exc:  # Windows' proactor loop watches no sockets
            sock.close(linger=0)
            raise SetupError(NO_READER) from exc

    async def receive(self, timeout: float | None) -> list[bytes] | None:
        """The next message, or None when ``timeout`` seconds pass without one."""
        while True:
            self._readable.clear()
            if cast(int, self._sock.getsockopt(_EVENTS)) & _POLLIN:
                return self._sock.recv_multipart(_NOBLOCK)
            try:
                async with asyncio.timeout(timeout):
                    await self._readable.wait()
            except TimeoutError:
                return None

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close(linger=0)


class StateFollower(Generic[E]):
    """Follow the state published on ``topic``: a snapshot, then each change exactly once."""

    def __init__(
        self,
        events_address: str,
        topic: str,
        event_type: type[E],
        snapshot: Callable[[], Awaitable[E]],
        *,
        heartbeat: HeartbeatRule | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.events_address = events_address
        self.topic = topic
        self.event_type = event_type
        self.heartbeat = heartbeat
        self.state: E | None = None
        self.resyncs = 0
        self._snapshot = snapshot
        self._context = context or zmq.asyncio.Context.instance()
        self._lost = False

    def _open(self) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] = zmq.Socket(self._context, zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, endpoints.EVENT_HWM)
        sock.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
        sock.connect(self.events_address)
        # Exact topics: ZeroMQ filters by prefix, so "backend.status" would match "backend.statusX";
        # the topic frame is compared again on receipt.
        sock.subscribe(self.topic.encode())
        if self.heartbeat is not None:
            sock.subscribe(self.heartbeat.topic.encode())
        return sock

    async def updates(self) -> AsyncIterator[Update[E]]:
        """Yield the snapshot, then every change in ``seq`` order, re-syncing on any gap."""
        inbox = _Inbox(self._open())
        liveness = self.heartbeat.liveness if self.heartbeat is not None else None
        try:
            need_sync = True
            while True:
                if need_sync:
                    update = await self._sync()
                    if update is not None:
                        yield update
                    need_sync = self.state is None or self._lost
                frames = await inbox.receive(liveness)
                if frames is None:
                    if not self._lost:
                        self._lost = True
                        yield Update("lost")
                    continue
                for update, resync in self._receive(frames):
                    if update is not None:
                        yield update
                    need_sync = need_sync or resync
        finally:
            inbox.close()

    async def _sync(self) -> Update[E] | None:
        try:
            snap = await self._snapshot()
        except BusError:
            if not self._lost and self.heartbeat is not None:
                self._lost = True
                return Update("lost")
            return None
        first = self.state is None
        state = self.state
        if state is not None and snap.instance == state.instance and snap.seq <= state.seq:
            return None
        self.state = snap
        if not first:
            self.resyncs += 1
        return Update("snapshot" if first else "resync", snap)

    def _receive(self, frames: list[bytes]) -> list[tuple[Update[E] | None, bool]]:
        """(update to yield, whether a re-sync is needed) for one received event."""
        topic = frames[0].decode(errors="replace") if frames else ""
        if self.heartbeat is not None and topic == self.heartbeat.topic:
            try:
                _, beat = decode_event(frames, Heartbeat)
            except BadReply:
                return []
            return self._on_heartbeat(beat)
        if topic != self.topic:
            return []
        try:
            _, event = decode_event(frames, self.event_type)
        except BadReply:
            return [(None, True)]
        return [self._on_event(event)]

    def _on_heartbeat(self, beat: Heartbeat) -> list[tuple[Update[E] | None, bool]]:
        out: list[tuple[Update[E] | None, bool]] = []
        if self._lost:
            self._lost = False
            out.append((Update("back"), True))
        state = self.state
        assert self.heartbeat is not None
        if (
            state is None
            or beat.instance != state.instance
            or self.heartbeat.seq_of(beat) > state.seq
        ):
            out.append((None, True))
        return out

    def _on_event(self, event: E) -> tuple[Update[E] | None, bool]:
        state = self.state
        if state is None or event.instance != state.instance:
            return None, True
        if event.seq <= state.seq:
            return None, False
        if event.seq != state.seq + 1:
            return None, True
        self.state = event
        return Update("event", event), False
