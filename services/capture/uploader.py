"""Move kept shots to the backend in order, through the spool whenever the backend cannot take them.

One task does everything, so order needs no locks: a new shot is posted at once only when the
backend is ``running`` and the spool is empty; otherwise, or when the post fails, it goes to the
spool. The spool is flushed oldest first whatever ``backend.status`` says: events are hints that
anyone of the user's can forge (``docs/protocol.md`` §9a), the backend's answer is the truth. A
failed post waits a growing delay (:data:`RETRY`, or the longer :data:`RETRY_STOPPED` while events
say the backend is not running), cut short by any change of the backend's state. Every post carries
the shot's id as ``Idempotency-Key``, so a post that stored the shot but lost its reply, retried
from the spool, is answered with the same record and nothing is stored twice.

A shot dropped here (refused by the backend for good, or its spool write failed) is logged with its
reason through :class:`~services.capture.drops.DropLog` (rate-limited); the spool logs the shots it
drops to stay within its bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from services.capture.drops import DropLog, DropReason
from services.capture.frames import Shot
from services.capture.posting import StoredCapture, UploadFailed, post_shot
from services.capture.spool import Spool, SpoolError
from services.foundation.backend_client import BackendClient
from services.foundation.delays import DelayRule, Delays

RETRY = DelayRule(initial=0.05, maximum=2.0)  # before re-posting after a failure, backend running
RETRY_STOPPED = DelayRule(initial=1.0, maximum=15.0)  # the same while events say it is not
EXPIRE_EVERY = 60.0  # seconds between age checks of an idle spool


class UploadSink(Protocol):
    """Where the uploader reports what became of each shot."""

    async def stored(self, shot: Shot, record: StoredCapture) -> None: ...

    def spooled(self, shot: Shot) -> None: ...

    def dropped(self, frame_ids: list[str], reason: DropReason, detail: str) -> None: ...

    def failed(self, reason: str, code: str | None = None) -> None: ...


class Uploader:
    """The queue between the capture loop and the backend."""

    def __init__(self, backend: BackendClient, spool: Spool, sink: UploadSink) -> None:
        self.backend = backend
        self.spool = spool
        self.sink = sink
        self.wake = backend.watch()  # new shots and any change of the backend's state
        self._backend_changed = backend.watch()
        self._queue: asyncio.Queue[Shot] = asyncio.Queue()
        self._retry = Delays(RETRY)
        self._retry_stopped = Delays(RETRY_STOPPED)
        self._in_flight: Shot | None = None
        self.drop_log = DropLog()

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
        if len(self.spool):
            await self._spool_queued()
            if self.backend.info is None:  # main has not said where the backend is: wait for it
                return False
            return await self._flush_one()  # "stopped" or not: only the backend can say no
        if self._queue.empty():
            return False
        shot = self._queue.get_nowait()
        self._in_flight = shot  # left set if cancelled mid-post: spool_pending() keeps it
        posted = self.backend.running.is_set() and await self._post(shot)
        self._in_flight = None
        if not posted:
            await self._to_spool(shot)
        return True

    async def _post(self, shot: Shot, *, spooled: bool = False) -> bool:
        """Post ``shot``; True when it is done with (stored, or refused for good)."""
        try:
            record = await post_shot(self.backend, shot)
        except UploadFailed as exc:
            self.sink.failed(exc.reason, exc.code)
            if exc.retry:
                return False
            await self._unspool(shot, spooled)
            self._drop(shot, "rejected", exc.reason)
            return True
        self._retry.reset()
        self._retry_stopped.reset()
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
        """Wait a growing delay, cut short by a change of the backend's state (not by new shots);
        longer while events say the backend is not running (they may be forged, so not forever)."""
        delay = (self._retry if self.backend.running.is_set() else self._retry_stopped).next()
        self._backend_changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._backend_changed.wait()

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
            self._drop(shot, "disk_full" if exc.disk_full else "spool_write_failed", str(exc))
            return
        self.sink.spooled(shot)
        if dropped:  # logged by the spool
            self.sink.dropped(dropped, "spool_full", "the spool is full; the oldest were dropped")

    def _drop(self, shot: Shot, reason: DropReason, detail: str) -> None:
        self.drop_log(reason, 1, f"frame {shot.id}: {detail}")
        self.sink.dropped([shot.id], reason, detail)

    async def spool_pending(self) -> None:
        """Spool every shot not yet stored: the queued ones and one cut off mid-post."""
        shot, self._in_flight = self._in_flight, None
        if shot is not None:
            await self._to_spool(shot)
        await self._spool_queued()
        self.drop_log.flush(everything=True)
        self.spool.drop_log.flush(everything=True)

    async def _expire(self) -> None:
        self.drop_log.flush()
        self.spool.drop_log.flush()
        if not len(self.spool):
            return
        dropped = await asyncio.to_thread(self.spool.expire)
        if dropped:
            self.sink.dropped(dropped, "expired", "frames past the spool's age limit were dropped")
