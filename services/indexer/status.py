"""The indexer's state and counters, published on ``indexer.status`` (Clone pattern).

A change of state, reason or current capture is published at once; counter changes at most once
per ``STATUS_EVERY`` seconds, and before any ``get_status`` answer, so a snapshot is always the
latest published event with its ``seq``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from collections import deque

import structlog

from bus import Publisher, endpoints
from bus.messages import IndexerState, IndexerStatus

log = structlog.get_logger("indexer.status")

STATUS_EVERY = 1.0  # seconds between publications of changed counters
RECENT_FRAMES = 32  # frames in the per-frame CPU median


class StatusBoard:
    """Current state, counters and reason; publishes them as ``indexer.status``."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.state: IndexerState = "starting"
        self.reason: str | None = None
        self.current: str | None = None
        self.engine: str | None = None
        self.queued = 0
        self.done = 0
        self.failed = 0
        self._cpu_ms: deque[float] = deque(maxlen=RECENT_FRAMES)
        self._latest: IndexerStatus | None = None
        self._dirty = True

    def count(self, *, done: int = 0, failed: int = 0) -> None:
        self.done += done
        self.failed += failed
        self._dirty = True

    def frame_cpu(self, seconds: float) -> None:
        """Record the OCR CPU time of one frame."""
        self._cpu_ms.append(seconds * 1000)
        self._dirty = True

    def set_queued(self, queued: int) -> None:
        if queued != self.queued:
            self.queued = queued
            self._dirty = True

    async def set_state(
        self, state: IndexerState, reason: str | None = None, current: str | None = None
    ) -> None:
        """Move to ``state`` (with ``reason``, working on ``current``), published if it changed."""
        if (state, reason, current) == (self.state, self.reason, self.current):
            return
        if (state, reason) != (self.state, self.reason):
            log.info("indexer_state", state=state, previous=self.state, reason=reason)
        self.state, self.reason, self.current = state, reason, current
        await self.publish()

    async def publish(self) -> IndexerStatus:
        """Publish the current status; returns the stamped event."""
        event = IndexerStatus(
            state=self.state,
            pid=os.getpid(),
            queued=self.queued,
            done=self.done,
            failed=self.failed,
            per_frame_ms=round(statistics.median(self._cpu_ms), 1) if self._cpu_ms else None,
            reason=self.reason,
            current=self.current,
            engine=self.engine,
        )
        self._dirty = False
        self._latest = await self.publisher.publish(endpoints.INDEXER_STATUS, event)
        return self._latest

    async def snapshot(self) -> IndexerStatus:
        """The latest published status, publishing first if anything changed since."""
        if self._dirty or self._latest is None:
            return await self.publish()
        return self._latest

    async def run(self) -> None:
        """Publish changed counters every ``STATUS_EVERY`` seconds until cancelled."""
        while True:
            await asyncio.sleep(STATUS_EVERY)
            if self._dirty:
                await self.publish()
