"""Record what happens, then wait on a condition with a deadline instead of sleeping.

:class:`Recorder` keeps every item handed to it, in order (events, statuses, printed lines), and
lets a caller wait until the items satisfy a condition. :class:`TopicRecorder` is the bus flavour:
it subscribes to one topic when created, so a caller creates it before acting and misses nothing.
The benchmarks and the tests both use these (``tests/fixtures/recorder.py`` re-exports them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

import zmq
import zmq.asyncio

from bus import Endpoints, Event
from bus.codec import decode_event

T = TypeVar("T")
E = TypeVar("E", bound=Event)

WAIT_TIMEOUT = 30.0


class Recorder(Generic[T]):
    """Every item added, in order, with a way to wait for a condition on them."""

    def __init__(self, what: str = "item", timeout: float = WAIT_TIMEOUT) -> None:
        self.what = what
        self.timeout = timeout
        self.items: list[T] = []
        self._changed = asyncio.Event()

    def add(self, item: T) -> None:
        self.items.append(item)
        self._changed.set()

    async def __call__(self, item: T) -> None:
        """:meth:`add`, as an async callback (a hook that reports to the recorder)."""
        self.add(item)

    async def wait_until(
        self, condition: Callable[[list[T]], bool], timeout: float | None = None
    ) -> None:
        """Return once ``condition(items)`` holds; ``TimeoutError`` after ``timeout`` seconds."""
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                while not condition(self.items):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            last = self.items[-1] if self.items else None
            raise TimeoutError(f"no matching {self.what} within {limit}s; last: {last}") from None

    async def wait_for(
        self, predicate: Callable[[T], bool], *, after: int = 0, timeout: float | None = None
    ) -> T:
        """The first item at index >= ``after`` that satisfies ``predicate``."""
        found: list[T] = []

        def matched(items: list[T]) -> bool:
            found.extend(item for item in items[after:] if predicate(item))
            return bool(found)

        await self.wait_until(matched, timeout)
        return found[0]

    async def next(self, count: int = 1, timeout: float | None = None) -> T:
        """The ``count``-th item added from now on."""
        return await self.wait_for(
            lambda _: True, after=len(self.items) + count - 1, timeout=timeout
        )


class TopicRecorder(Recorder[E]):
    """Every event published on ``topic`` from the moment of creation, in order."""

    def __init__(
        self, endpoints: Endpoints, topic: str, event_type: type[E], timeout: float = WAIT_TIMEOUT
    ) -> None:
        super().__init__(topic, timeout)
        self.topic = topic
        self.event_type = event_type
        self._sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoints.events)
        self._sock.subscribe(topic.encode())
        self._task = asyncio.ensure_future(self._collect())

    @property
    def events(self) -> list[E]:
        return self.items

    async def _collect(self) -> None:
        while True:
            frames = await self._sock.recv_multipart()
            topic, event = decode_event(frames, self.event_type)
            if topic == self.topic:  # a subscription is a prefix: skip longer topics
                self.add(event)

    def close(self) -> None:
        self._task.cancel()
        self._sock.close(linger=0)
