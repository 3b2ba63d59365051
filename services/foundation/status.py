"""A component's status on the bus: the latest event of its topic, and when to publish again.

The owner of a ``<component>.status`` topic keeps one :class:`StatusBoard`: a change of state is
published at once (:meth:`StatusBoard.publish`); counter changes only mark the board dirty and go
out at most once per ``STATUS_EVERY`` seconds (:meth:`StatusBoard.run`), and before any
``get_status`` answer (:meth:`StatusBoard.snapshot`), so a snapshot is always the latest published
event with its ``seq`` (the Clone pattern), never a state that was not published.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from bus import Event, Publisher

E = TypeVar("E", bound=Event)

STATUS_EVERY = 1.0  # seconds between publications of changed counters


class StatusBoard(Generic[E]):
    """Publishes :meth:`current` on ``topic``; subclasses hold the fields and build the event."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.publisher = publisher
        self.topic = topic
        self._latest: E | None = None
        self._dirty = True

    def changed(self) -> None:
        """Something changed: it goes out with the next publication."""
        self._dirty = True

    def current(self) -> E:
        """The status event as of now (not yet stamped)."""
        raise NotImplementedError

    async def publish(self) -> E:
        """Publish the current status; returns the stamped event."""
        self._dirty = False
        self._latest = await self.publisher.publish(self.topic, self.current())
        return self._latest

    async def snapshot(self) -> E:
        """The latest published status, publishing first if anything changed since."""
        if self._dirty or self._latest is None:
            return await self.publish()
        return self._latest

    async def run(self) -> None:
        """Publish changed counters every ``STATUS_EVERY`` seconds until cancelled."""
        while True:
            await asyncio.sleep(STATUS_EVERY)  # the publication period
            if self._dirty:
                await self.publish()
