"""Bus events to the browser: one hub fans each forwarded event out to every open SSE stream.

``backend.status`` is followed with the Clone pattern (:class:`bus.StateFollower`: snapshot from
main's ``get_status``, then each change exactly once, ``lost``/``back`` from main's heartbeat);
``component.status`` too (:class:`bus.KeyedFollower`: snapshot from the launcher's
``get_components``, then each component's later events by ``seq``; a ``url`` that is not a
ctxbus component's is dropped); other topics (``FORWARDED_TOPICS``) are plain subscriptions.
Every SSE message is one JSON object on one ``data:`` line (re-encoded, so no newline of a body
can split it), ``{"topic": str, "kind": "snapshot"|"event"|"resync"|"lost"|"back", "body":
{...}|null}``; a new stream first gets the latest message of each topic, so the page needs no
other request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import structlog
import zmq
import zmq.asyncio

from bus import (
    LAUNCHER_BEAT,
    MAIN_BEAT,
    BackendStatus,
    ComponentStatus,
    KeyedFollower,
    KeyedSnapshot,
    StateFollower,
    Update,
    endpoints,
    subscribe,
    topic_of,
)
from bus.codec import encode_struct
from bus.messages import ComponentList
from services.foundation.dashboard import without_foreign_url

log = structlog.get_logger("frontend.events")

FORWARDED_TOPICS = (
    endpoints.CAPTURE_STATUS,
    endpoints.CAPTURE_FRAME,
)
LATEST_KEPT = (endpoints.BACKEND_STATUS, endpoints.COMPONENT_STATUS, endpoints.CAPTURE_STATUS)
STREAM_QUEUE = 1000  # messages buffered per browser before that stream is dropped (it reconnects)
KEEPALIVE = 15.0  # seconds between SSE comments on an idle stream
RETRY_MS = 1000  # the browser's reconnect delay, sent in the stream


def message(topic: str, kind: str, body: bytes | None) -> str:
    """One SSE ``data`` payload: the JSON envelope, the event's body re-encoded compactly.

    Re-encoding (msgspec escapes every control character) keeps the payload on one line: a body
    laid out over several lines (legal JSON) would otherwise end the SSE event early. A body that
    is not JSON raises ``msgspec.DecodeError``.
    """
    decoded = msgspec.json.decode(body) if body is not None else None
    return msgspec.json.encode({"topic": topic, "kind": kind, "body": decoded}).decode()


class EventHub:
    """Fan-out of messages to SSE streams, keeping the latest per topic for late joiners."""

    def __init__(self) -> None:
        self._streams: set[asyncio.Queue[str | None]] = set()
        self._latest: dict[str, str] = {}
        self._closed = False

    def broadcast(self, topic: str, kind: str, body: bytes | None) -> None:
        data = message(topic, kind, body)
        key = f"component:{_component_of(body)}" if topic == endpoints.COMPONENT_STATUS else topic
        if topic in LATEST_KEPT:
            self._latest[key] = data
        for queue in list(self._streams):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[str | None]) -> None:
        self._streams.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def close(self) -> None:
        """End every stream (before the server shuts down, so none holds it up)."""
        self._closed = True
        for queue in list(self._streams):
            self._drop(queue)

    async def stream(self) -> AsyncIterator[str]:
        """Server-sent events for one browser: the latest state, then every message."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(STREAM_QUEUE)
        if self._closed:
            return
        self._streams.add(queue)
        try:
            yield f"retry: {RETRY_MS}\n\n"
            for data in list(self._latest.values()):
                yield f"data: {data}\n\n"
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE):
                        item = await queue.get()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if item is None:
                    return
                yield f"data: {item}\n\n"
        finally:
            self._streams.discard(queue)


class _Component(msgspec.Struct):
    component: str = ""


def _component_of(body: bytes | None) -> str:
    try:
        return msgspec.json.decode(body or b"{}", type=_Component).component
    except msgspec.DecodeError:
        return ""


async def follow_backend(
    hub: EventHub,
    follower: StateFollower[BackendStatus],
    observe: Callable[[BackendStatus], Awaitable[None]],
) -> None:
    """Feed ``backend.status`` updates to ``observe`` (the backend link) and to the hub."""
    update: Update[BackendStatus]
    async for update in follower.updates():
        if update.event is not None:
            await observe(update.event)
        body = encode_struct(update.event) if update.event is not None else None
        hub.broadcast(endpoints.BACKEND_STATUS, update.kind, body)


def backend_follower(
    events_address: str, snapshot: Callable[[], Awaitable[BackendStatus]]
) -> StateFollower[BackendStatus]:
    return StateFollower(
        events_address,
        endpoints.BACKEND_STATUS,
        BackendStatus,
        snapshot,
        heartbeat=MAIN_BEAT,
    )


def components_follower(
    events_address: str, snapshot: Callable[[], Awaitable[ComponentList]]
) -> KeyedFollower[ComponentStatus]:
    """The Clone pattern over ``component.status``, one row per component (launcher's heartbeat)."""

    async def keyed() -> KeyedSnapshot[ComponentStatus]:
        listing = await snapshot()
        return KeyedSnapshot(listing.seq, listing.instance, listing.components)

    return KeyedFollower(
        events_address,
        endpoints.COMPONENT_STATUS,
        ComponentStatus,
        _component_key,
        keyed,
        heartbeat=LAUNCHER_BEAT,
    )


def _component_key(status: ComponentStatus) -> str:
    return status.component


async def follow_components(
    hub: EventHub, follower: KeyedFollower[ComponentStatus], dashboard: str | None = None
) -> None:
    """Feed each component's row changes to the hub (the launcher's liveness is not a row).

    A ``url`` that is not a loopback URL of a ctxbus component (``dashboard`` is this dashboard's
    host name) is dropped: events are hints anyone on the bus could forge.
    """
    async for update in follower.updates():
        if update.event is not None:
            shown = without_foreign_url(update.event, dashboard)
            hub.broadcast(endpoints.COMPONENT_STATUS, update.kind, encode_struct(shown))


async def forward_topics(
    hub: EventHub, events_address: str, topics: tuple[str, ...] = FORWARDED_TOPICS
) -> None:
    """Relay every event on ``topics`` to the hub (its body re-encoded; not JSON: dropped)."""
    sock = subscribe(zmq.asyncio.Context.instance(), events_address, topics)
    try:
        while True:
            frames = await sock.recv_multipart()
            topic = topic_of(frames)
            if len(frames) != 2 or topic not in topics:
                continue  # ZeroMQ filters by prefix; exact topics only
            try:
                hub.broadcast(topic, "event", frames[1])
            except msgspec.DecodeError:
                log.warning("bad_event_dropped", topic=topic)
    finally:
        sock.close(linger=0)
