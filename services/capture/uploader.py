"""Move kept shots to the backend in order, through the spool whenever the backend cannot take them.

One task does everything, so order needs no locks: a new shot is posted at once only when the
backend is ``running`` and the spool is empty; otherwise, or when the post fails, it goes to the
spool. While the backend runs, the spool is flushed oldest first. Every post carries the shot's id
as ``Idempotency-Key``, so a post that stored the shot but lost its reply, retried from the spool,
is answered with the same record and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import structlog

from services.capture.backend_link import BackendLink, StoredCapture, UploadFailed
from services.capture.frames import Shot
from services.capture.spool import Spool, SpoolError

log = structlog.get_logger("capture.uploader")

RETRY_MIN = 0.05  # seconds before re-posting after a failure while the backend says running
RETRY_MAX = 2.0
EXPIRE_EVERY = 60.0  # seconds between age checks of an idle spool


class UploadSink(Protocol):
    """Where the uploader reports what became of each shot."""

    async def stored(self, shot: Shot, record: StoredCapture) -> None: ...

    def spooled(self, shot: Shot) -> None: ...

    def dropped(self, frame_ids: list[str], reason: str) -> None: ...

    def failed(self, reason: str) -> None: ...


class Uploader:
    """The queue between the capture loop and the backend."""

    def __init__(self, link: BackendLink, spool: Spool, sink: UploadSink) -> None:
        self.link = link
        self.spool = spool
        self.sink = sink
        self.wake = link.wake
        self._queue: asyncio.Queue[Shot] = asyncio.Queue()
        self._retry = RETRY_MIN
        self._in_flight: Shot | None = None

    def submit(self, shot: Shot) -> None:
        """Hand over a kept shot; returns at once."""
        self._queue.put_nowait(shot)
        self.wake.set()

    async def run(self) -> None:
        """Post, spool and flush until cancelled."""
        while True:
            self.wake.clear()
            if not await self._step():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(EXPIRE_EVERY):
                        await self.wake.wait()
                await self._expire()

    async def _step(self) -> bool:
        """Do one unit of work; False when there is nothing to do until something changes."""
        running = self.link.running.is_set()
        if len(self.spool):
            if not running:
                await self._spool_queued()
                return False
            await self._spool_queued()
            return await self._flush_one()
        if self._queue.empty():
            return False
        shot = self._queue.get_nowait()
        self._in_flight = shot  # left set if cancelled mid-post: spool_pending() keeps it
        posted = running and await self._post(shot)
        self._in_flight = None
        if not posted:
            await self._to_spool(shot)
        return True

    async def _post(self, shot: Shot, *, spooled: bool = False) -> bool:
        """Post ``shot``; True when it is done with (stored, or refused for good)."""
        try:
            record = await self.link.post(shot)
        except UploadFailed as exc:
            self.sink.failed(exc.reason)
            if exc.retry:
                return False
            log.warning("upload_rejected", frame=shot.id, reason=exc.reason)
            await self._unspool(shot, spooled)
            self.sink.dropped([shot.id], exc.reason)
            return True
        self._retry = RETRY_MIN
        await self._unspool(shot, spooled)
        await self.sink.stored(shot, record)
        return True

    async def _unspool(self, shot: Shot, spooled: bool) -> None:
        if spooled:
            await asyncio.to_thread(self.spool.remove, shot.id)

    async def _flush_one(self) -> bool:
        shot = await asyncio.to_thread(self.spool.oldest)
        if shot is not None and not await self._post(shot, spooled=True):
            await self._pause_after_failure()
        return True

    async def _pause_after_failure(self) -> None:
        """Wait a growing delay, cut short by a change of the backend's state (not by new shots)."""
        delay, self._retry = self._retry, min(self._retry * 2, RETRY_MAX)
        self.link.changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self.link.changed.wait()

    async def _spool_queued(self) -> None:
        while not self._queue.empty():
            await self._to_spool(self._queue.get_nowait())

    async def _to_spool(self, shot: Shot) -> None:
        """Write ``shot`` to the spool and report it; cancelled meanwhile, the write ends first.

        The shot is off the queue already, so a cancel must not reach the write: a cancelled
        ``to_thread`` that no worker thread had started yet is never run, and the shot is lost.
        """
        write = asyncio.ensure_future(asyncio.to_thread(self.spool.put, shot))
        try:
            await asyncio.wait([write])  # wait() does not cancel what it waits for
        except asyncio.CancelledError:
            await asyncio.wait([write])  # stopping: the shot reaches the disk and is counted first
            self._report_spooled(shot, write)
            raise
        self._report_spooled(shot, write)

    def _report_spooled(self, shot: Shot, write: asyncio.Future[list[str]]) -> None:
        try:
            dropped = write.result()
        except SpoolError as exc:
            self.sink.failed(str(exc))
            self.sink.dropped([shot.id], str(exc))
            return
        self.sink.spooled(shot)
        if dropped:
            self.sink.dropped(dropped, "the spool is full; the oldest frames were dropped")

    async def spool_pending(self) -> None:
        """Spool every shot not yet stored: the queued ones and one cut off mid-post."""
        shot, self._in_flight = self._in_flight, None
        if shot is not None:
            await self._to_spool(shot)
        await self._spool_queued()

    async def _expire(self) -> None:
        if not len(self.spool):
            return
        dropped = await asyncio.to_thread(self.spool.expire)
        if dropped:
            self.sink.dropped(dropped, "frames older than the spool's age limit were dropped")
