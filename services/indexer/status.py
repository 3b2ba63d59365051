"""The indexer's state and counters, published on ``indexer.status`` (Clone pattern).

A change of state, reason or current capture is published at once; counter changes at most once
per ``STATUS_EVERY`` seconds, and before any ``get_status`` answer, so a snapshot is always the
latest published event with its ``seq``.
"""

from __future__ import annotations

import os
import statistics
from collections import deque

import structlog

from bus import Publisher, endpoints
from bus.messages import IndexerState, IndexerStatus
from services.foundation.status import StatusBoard as Board

log = structlog.get_logger("indexer.status")

RECENT_FRAMES = 32  # frames in the per-frame CPU median


class StatusBoard(Board[IndexerStatus]):
    """Current state, counters and reason; publishes them as ``indexer.status``."""

    def __init__(self, publisher: Publisher) -> None:
        super().__init__(publisher, endpoints.INDEXER_STATUS)
        self.state: IndexerState = "starting"
        self.reason: str | None = None
        self.current_capture: str | None = None
        self.engine: str | None = None
        self.queued = 0
        self.done = 0
        self.failed = 0
        self._cpu_ms: deque[float] = deque(maxlen=RECENT_FRAMES)

    def count(self, *, done: int = 0, failed: int = 0) -> None:
        self.done += done
        self.failed += failed
        self.changed()

    def frame_cpu(self, seconds: float) -> None:
        """Record the OCR CPU time of one frame."""
        self._cpu_ms.append(seconds * 1000)
        self.changed()

    def set_queued(self, queued: int) -> None:
        if queued != self.queued:
            self.queued = queued
            self.changed()

    async def set_state(
        self, state: IndexerState, reason: str | None = None, current: str | None = None
    ) -> None:
        """Move to ``state`` (with ``reason``, working on ``current``), published if it changed."""
        if (state, reason, current) == (self.state, self.reason, self.current_capture):
            return
        if (state, reason) != (self.state, self.reason):
            log.info("indexer_state", state=state, previous=self.state, reason=reason)
        self.state, self.reason, self.current_capture = state, reason, current
        await self.publish()

    def current(self) -> IndexerStatus:
        return IndexerStatus(
            state=self.state,
            pid=os.getpid(),
            queued=self.queued,
            done=self.done,
            failed=self.failed,
            per_frame_ms=round(statistics.median(self._cpu_ms), 1) if self._cpu_ms else None,
            reason=self.reason,
            current=self.current_capture,
            engine=self.engine,
        )
