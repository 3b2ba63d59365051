"""Why the indexer waits: every reason to yield to the user, held in one place.

Each source (the configuration, the battery, capture's state, the backend) sets or clears its
own reason; the indexer works only while none is set. Every change sets the ``changed`` event the
work loop waits on, so a pause or a resume takes effect at the next frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import psutil
import structlog

from bus import AsyncRequester, BusError, CaptureStatus, StateFollower, endpoints
from bus.ops import CaptureOps

log = structlog.get_logger("indexer.pauses")

Source = Literal["config", "battery", "capture", "backend"]
CAPTURE_QUIET = ("idle", "paused")  # capture states in which the indexer waits too
CAPTURE_RECHECK = 30.0  # seconds: a capture that paused and then died must not hold us forever


class Pauses:
    """The current reasons to wait, by source."""

    def __init__(self, changed: asyncio.Event) -> None:
        self.changed = changed
        self._reasons: dict[Source, str] = {}

    def set(self, source: Source, reason: str | None) -> None:
        """Set (or clear, with None) ``source``'s reason to wait."""
        if self._reasons.get(source) == reason:
            return
        if reason is None:
            self._reasons.pop(source, None)
        else:
            self._reasons[source] = reason
        log.info("pause_reason", source=source, reason=reason)
        self.changed.set()

    @property
    def reason(self) -> str | None:
        """The first reason to wait, or None when the indexer may work."""
        return next(iter(self._reasons.values()), None)


def on_battery() -> bool:
    """Whether the machine runs on battery (no battery at all: mains)."""
    battery = psutil.sensors_battery()
    return battery is not None and battery.power_plugged is False


async def watch_power(pauses: Pauses, every: float, probe: Callable[[], bool] = on_battery) -> None:
    """Pause while on battery; look every ``every`` seconds until cancelled."""
    while True:
        battery = await asyncio.to_thread(probe)
        pauses.set("battery", "on battery power" if battery else None)
        await asyncio.sleep(every)  # the battery's polling period


def _capture_reason(status: CaptureStatus | None) -> str | None:
    if status is None or status.state not in CAPTURE_QUIET:
        return None
    return f"capture is {status.state}"


class CaptureWatch:
    """Follow ``capture.status`` (Clone pattern) and pause while capture is idle or paused."""

    def __init__(self, events: str, capture: str, pauses: Pauses) -> None:
        self.pauses = pauses
        self.requester = AsyncRequester(capture, timeout=endpoints.OPTIONAL_PEER_TIMEOUT, retries=1)
        self.follower = StateFollower(
            events, endpoints.CAPTURE_STATUS, CaptureStatus, self._snapshot
        )

    async def _snapshot(self) -> CaptureStatus:
        return await self.requester.call(CaptureOps.GET_STATUS)

    async def run(self) -> None:
        """Follow capture until cancelled."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._follow())
                tasks.create_task(self._recheck(self._snapshot))
        finally:
            self.requester.close()

    async def _follow(self) -> None:
        async for update in self.follower.updates():
            if update.event is not None:
                self.pauses.set("capture", _capture_reason(update.event))

    async def _recheck(self, ask: Callable[[], Awaitable[CaptureStatus]]) -> None:
        """While capture holds us, ask it now and then: no answer means it is gone."""
        while True:
            await asyncio.sleep(CAPTURE_RECHECK)  # the recheck's period
            if self.follower.state is None or _capture_reason(self.follower.state) is None:
                continue
            try:
                self.pauses.set("capture", _capture_reason(await ask()))
            except BusError:
                self.pauses.set("capture", None)
