"""The capture process's state and counters, published on ``capture.status`` (Clone pattern).

Every state change is published at once. Counter changes are published at most once per
``STATUS_EVERY`` seconds, and before any ``get_status`` answer, so a snapshot is always the latest
published event with its ``seq``, never a state that was not published.

``disk_full`` is true while a full disk holds frames back: the backend answered an upload with
``disk_full`` (until an upload is stored again), or a spool write found no room (until a spool
write or an upload succeeds). Each place is tracked on its own, so a spool write that works while
the backend's disk is full does not hide the backend's problem.
"""

from __future__ import annotations

import os
from typing import Literal

import msgspec
import structlog

from bus import Publisher, endpoints
from bus.messages import CaptureCounters, CaptureState, CaptureStatus, WindowReading
from services.foundation.status import StatusBoard as Board

DiskPlace = Literal["backend", "spool"]

log = structlog.get_logger("capture.status")


class StatusBoard(Board[CaptureStatus]):
    """Current state, counters and last error; publishes them as ``capture.status``."""

    def __init__(self, publisher: Publisher, interval: float) -> None:
        super().__init__(publisher, endpoints.CAPTURE_STATUS)
        self.interval = interval
        self.state: CaptureState = "starting"
        self.counters = CaptureCounters()
        self.last_error: str | None = None
        self.spool_bytes = 0
        self.spool_frames = 0
        self.full_disks: set[DiskPlace] = set()
        self.window: WindowReading = "unknown"
        self.window_reason: str | None = None

    def count(self, counter: str, amount: int = 1) -> None:
        """Add ``amount`` to one of the :class:`CaptureCounters`."""
        setattr(self.counters, counter, getattr(self.counters, counter) + amount)
        self.changed()

    def error(self, message: str) -> None:
        """Remember ``message`` as the last error (published with the next status)."""
        self.last_error = message
        self.changed()

    def disk_full(self, place: DiskPlace, full: bool) -> None:
        """Record whether the disk at ``place`` (the backend's, the spool's) is full."""
        if full == (place in self.full_disks):
            return
        if full:
            log.warning("disk_full", place=place, last_error=self.last_error)
            self.full_disks.add(place)
        else:
            log.info("disk_space_back", place=place)
            self.full_disks.discard(place)
        self.changed()

    def windows(self, unavailable_reason: str | None) -> None:
        """Record whether the active window can be read (logged once per change)."""
        reading: WindowReading = "available" if unavailable_reason is None else "unavailable"
        if (reading, unavailable_reason) == (self.window, self.window_reason):
            return
        log.info("window_reading", window=reading, reason=unavailable_reason)
        self.window, self.window_reason = reading, unavailable_reason
        self.changed()

    def spool(self, frames: int, size: int) -> None:
        """Record the spool's current size."""
        if (frames, size) != (self.spool_frames, self.spool_bytes):
            self.spool_frames, self.spool_bytes = frames, size
            self.changed()

    async def set_state(self, state: CaptureState, reason: str | None = None) -> None:
        """Move to ``state``, publishing at once if it changed; ``reason`` is the last error."""
        if reason is not None:
            self.error(reason)
        if state == self.state:
            return
        log.info("capture_state", state=state, previous=self.state, reason=reason)
        self.state = state
        await self.publish()

    def current(self) -> CaptureStatus:
        return CaptureStatus(
            state=self.state,
            pid=os.getpid(),
            interval_s=self.interval,
            counters=msgspec.structs.replace(self.counters),
            last_error=self.last_error,
            spool_bytes=self.spool_bytes,
            spool_frames=self.spool_frames,
            disk_full=bool(self.full_disks),
            window=self.window,
            window_reason=self.window_reason,
        )
