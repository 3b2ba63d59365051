"""Late-joining subscribers that never miss or double-apply a state change (the Clone pattern).

Both followers subscribe first, then ask the topic's owner for a snapshot with its ``seq``, then
apply only events with the next ``seq``. Events are hints and the owner's snapshot is the truth
(anyone of the same user can publish, see ``docs/protocol.md`` §8): a gap or jump, an event from
another publisher instance, an event repeating the applied ``seq`` with other content, or a
heartbeat whose ``seq`` differs from ours (ahead or behind) triggers a re-sync, and a re-sync's
snapshot replaces whatever differs from it, even at a lower ``seq``. No heartbeat
for ``HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS`` means the owner is gone; its next heartbeat means
it is back.

- :class:`StateFollower`: one value per topic (``backend.status``, owned by main).
- :class:`KeyedFollower`: one value per key on one topic (``component.status``, one entry per
  component, owned by the launcher); the snapshot holds every entry and the topic's ``seq``.

:func:`subscribe` is the one place a SUB socket is set up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, Literal, TypeVar, cast

import msgspec
import zmq
import zmq.asyncio

from bus import curve, endpoints
from bus.codec import decode_event
from bus.errors import NO_READER, BadReply, BusError, SetupError
from bus.frames import receive_frames
from bus.messages import Event, Heartbeat, LauncherHeartbeat
from bus.wakeup import Wakeup

E = TypeVar("E", bound=Event)
S = TypeVar("S", bound=zmq.Socket[Any])

# Plain ints: pyzmq's constants are enums, and enum arithmetic per message showed in profiles.
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
UpdateKind = Literal["snapshot", "event", "resync", "lost", "back"]


def subscribe(context: zmq.Context[S], address: str, topics: Iterable[str]) -> S:
    """A SUB socket connected to ``address`` and subscribed to each of ``topics``.

    ZeroMQ filters by prefix ("backend.status" also matches "backend.statusX"): compare the
    topic frame of what arrives again (:func:`topic_of`).
    """
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, endpoints.EVENT_HWM)
    sock.setsockopt(zmq.MAXMSGSIZE, endpoints.HARD_MAX_MESSAGE_BYTES)
    curve.protect_client(sock, address)
    sock.connect(address)
    for topic in topics:
        sock.subscribe(topic.encode())
    return sock


def topic_of(frames: list[bytes]) -> str:
    """The topic frame of a received event ('' if there is none)."""
    return frames[0].decode(errors="replace") if frames else ""


class Update(msgspec.Struct, Generic[E], frozen=True):
    """One step of a followed state: a new state (``event`` set) or a liveness change."""

    kind: UpdateKind
    event: E | None = None


def _backend_seq(beat: Any) -> int:
    return cast(Heartbeat, beat).backend_seq


def _component_seq(beat: Any) -> int:
    return cast(LauncherHeartbeat, beat).component_seq


class HeartbeatRule(msgspec.Struct, frozen=True):
    """Which topic carries the owner's heartbeat and how to read the followed topic's seq off it."""

    topic: str = endpoints.MAIN_HEARTBEAT
    beat_type: type[Event] = Heartbeat
    seq_of: Callable[[Any], int] = _backend_seq
    liveness: float = endpoints.HEARTBEAT_INTERVAL * endpoints.HEARTBEAT_LIVENESS


MAIN_BEAT = HeartbeatRule()
LAUNCHER_BEAT = HeartbeatRule(endpoints.LAUNCHER_HEARTBEAT, LauncherHeartbeat, _component_seq)


class _Inbox:
    """Receive from a plain zmq socket through the event loop's reader on its FD.

    Cheaper per message than pyzmq's asyncio socket (no future, timer and reader registration
    per receive), and than an ``asyncio.Event`` with ``asyncio.timeout()`` around its wait. The
    FD only says the socket's state may have changed: ``EVENTS`` is the truth, checked before
    each wait (the reader wakes only a waiter that exists, so no wake-up is lost in between).
    The reader resolves a :class:`~bus.wakeup.Wakeup`, so the receiving task reads the message
    in the same pass of the loop as the reader, and reads it without asking ``EVENTS`` again.
    A wait's timeout is a deadline that one standing timer checks when it fires (moving on to
    the latest deadline if that has not passed): no timer is made and cancelled per message.
    """

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self._sock = sock
        self._waiter: Wakeup[bool] | None = None
        self._deadline: float | None = None  # loop time at which the current wait times out
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        try:
            self._loop.add_reader(sock.fileno(), self._wake, True)
        except NotImplementedError as exc:  # Windows' proactor loop watches no sockets
            sock.close(linger=0)
            raise SetupError(NO_READER) from exc

    def _wake(self, readable: bool) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.set(readable)  # the receiving task steps now, in this pass of the loop
        elif readable:
            # Nobody waits (the follower is busy, e.g. asking for its snapshot): reading EVENTS
            # clears the FD's signal, or the loop would call this again on every pass, a busy
            # loop. What came stays queued; the next wait asks EVENTS before it waits.
            self._sock.getsockopt(_EVENTS)

    def _expire(self) -> None:
        """The standing timer: time out the wait whose deadline has passed, else wait on."""
        self._timer = None
        deadline = self._deadline
        if self._waiter is None or deadline is None:
            return  # no wait, or one without a timeout: the next wait with one sets a timer
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._expire)
        else:
            self._wake(False)

    async def receive(self, timeout: float | None) -> list[bytes] | None:
        """The next message, or None when ``timeout`` seconds pass without one."""
        sock = self._sock
        while True:
            if cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
                return receive_frames(sock)
            waiter: Wakeup[bool] = Wakeup(self._loop)
            self._waiter = waiter
            self._deadline = None if timeout is None else self._loop.time() + timeout
            if self._deadline is not None and self._timer is None:
                self._timer = self._loop.call_at(self._deadline, self._expire)
            try:
                if not await waiter:
                    return None
            finally:
                self._waiter = None
            try:  # woken: a message is almost always there, so read it without asking EVENTS
                return receive_frames(sock)
            except zmq.Again:
                continue  # the FD's state changed without a message: ask the socket again

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close(linger=0)


Step = tuple["Update[Any] | None", bool]  # (update to yield, whether a re-sync is needed)


class _Follower(Generic[E]):
    """The loop both followers share: subscribe, sync, receive, heartbeats, lost and back."""

    def __init__(
        self,
        events_address: str,
        topic: str,
        event_type: type[E],
        heartbeat: HeartbeatRule | None,
        context: zmq.asyncio.Context | None,
    ) -> None:
        self.events_address = events_address
        self.topic = topic
        self.event_type = event_type
        self.heartbeat = heartbeat
        self.resyncs = 0
        self._context = context or zmq.asyncio.Context.instance()
        self._lost = False
        self._synced = False

    async def updates(self) -> AsyncIterator[Update[E]]:
        """Yield the snapshot, then every change in ``seq`` order, re-syncing on any gap."""
        topics = [self.topic] + ([self.heartbeat.topic] if self.heartbeat is not None else [])
        plain: zmq.Context[zmq.Socket[bytes]] = zmq.Context.shadow(self._context.underlying)
        inbox = _Inbox(subscribe(plain, self.events_address, topics))
        liveness = self.heartbeat.liveness if self.heartbeat is not None else None
        try:
            need_sync = True
            while True:
                if need_sync:
                    for update in await self._sync_or_lose():
                        yield update
                    need_sync = not self._synced or self._lost
                frames = await inbox.receive(liveness)
                if frames is None:
                    if not self._lost:
                        self._lost = True
                        yield Update("lost")
                    continue
                for change, resync in self._receive(frames):
                    if change is not None:
                        yield change
                    need_sync = need_sync or resync
        finally:
            inbox.close()

    async def _sync_or_lose(self) -> list[Update[E]]:
        try:
            return await self._sync()
        except BusError:
            if not self._lost and self.heartbeat is not None:
                self._lost = True
                return [Update("lost")]
            return []

    def _receive(self, frames: list[bytes]) -> list[Step]:
        topic = topic_of(frames)
        rule = self.heartbeat
        if rule is not None and topic == rule.topic:
            try:
                _, beat = decode_event(frames, rule.beat_type)
            except BadReply:
                return []
            return self._on_heartbeat(beat, rule)
        if topic != self.topic:
            return []
        try:
            _, event = decode_event(frames, self.event_type)
        except BadReply:
            return [(None, True)]
        return [self._on_event(event)]

    def _on_heartbeat(self, beat: Event, rule: HeartbeatRule) -> list[Step]:
        out: list[Step] = []
        if self._lost:
            self._lost = False
            out.append((Update("back"), True))
        instance, seq = self._position()
        if instance is None or beat.instance != instance or rule.seq_of(beat) != seq:
            out.append((None, True))  # behind us too: what we applied was not the owner's
        return out

    async def _sync(self) -> list[Update[E]]:
        raise NotImplementedError

    def _position(self) -> tuple[str | None, int]:
        """The owner instance and topic ``seq`` applied so far (None before the first sync)."""
        raise NotImplementedError

    def _on_event(self, event: E) -> Step:
        raise NotImplementedError


class StateFollower(_Follower[E]):
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
        super().__init__(events_address, topic, event_type, heartbeat, context)
        self.state: E | None = None
        self._snapshot = snapshot

    def _position(self) -> tuple[str | None, int]:
        state = self.state
        return (state.instance, state.seq) if state is not None else (None, 0)

    async def _sync(self) -> list[Update[E]]:
        snap = await self._snapshot()
        state = self.state
        self._synced = True
        if snap == state:
            return []
        self.state = snap
        if state is None:
            return [Update("snapshot", snap)]
        self.resyncs += 1
        return [Update("resync", snap)]

    def _on_event(self, event: E) -> Step:
        state = self.state
        if state is None or event.instance != state.instance:
            return None, True
        if event.seq == state.seq:
            return None, event != state  # the same seq told two ways: ask the owner
        if event.seq < state.seq:
            return None, False  # already in the snapshot we took
        if event.seq != state.seq + 1:
            return None, True
        self.state = event
        return Update("event", event), False


class KeyedSnapshot(msgspec.Struct, Generic[E], frozen=True):
    """The owner's snapshot of keyed state: every entry, and the topic's ``seq`` it reflects."""

    seq: int
    instance: str
    entries: Sequence[E] = msgspec.field(default_factory=list)


class KeyedFollower(_Follower[E]):
    """Follow keyed state on ``topic`` (one entry per ``key(event)``), each change exactly once.

    A snapshot yields every entry (oldest change first) as ``snapshot``, or as ``resync`` for
    an entry that changed since; an event is applied only when its ``seq`` is the topic's next.
    """

    def __init__(
        self,
        events_address: str,
        topic: str,
        event_type: type[E],
        key: Callable[[E], str],
        snapshot: Callable[[], Awaitable[KeyedSnapshot[E]]],
        *,
        heartbeat: HeartbeatRule | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        super().__init__(events_address, topic, event_type, heartbeat, context)
        self.key = key
        self.state: dict[str, E] = {}
        self.seq = 0
        self.instance: str | None = None
        self._snapshot = snapshot

    def _position(self) -> tuple[str | None, int]:
        return self.instance, self.seq

    async def _sync(self) -> list[Update[E]]:
        snap = await self._snapshot()
        first = not self._synced
        self._synced = True
        truth = {self.key(entry): entry for entry in snap.entries}
        if (snap.instance, snap.seq) == (self.instance, self.seq) and truth == self.state:
            return []
        known = self.state if snap.instance == self.instance else {}
        self.instance, self.seq, self.state = snap.instance, snap.seq, truth
        if not first:
            self.resyncs += 1
        kind: UpdateKind = "snapshot" if first else "resync"
        changed = [entry for key, entry in truth.items() if known.get(key) != entry]
        return [Update(kind, entry) for entry in sorted(changed, key=lambda e: e.seq)]

    def _on_event(self, event: E) -> Step:
        if event.instance != self.instance:
            return None, True
        if event.seq == self.seq:
            return None, self.state.get(self.key(event)) != event  # told two ways: ask the owner
        if event.seq < self.seq:
            return None, False  # already in the snapshot we took
        if event.seq != self.seq + 1:
            return None, True
        self.seq = event.seq
        self.state[self.key(event)] = event
        return Update("event", event), False
