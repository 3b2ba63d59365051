"""The indexer process: read the text on every stored capture, newest first, each one once.

Work comes from ``capture.frame`` events (new captures, at once) and the backend's backlog of
captures without text (those stored while the indexer was down). One frame at a time, on one
tesseract thread at nice 19: its image is fetched, compared with the last frame read on the same
monitor, and only the regions that changed are read (``regions.py``); the words of the rest are
carried over. The text goes to the backend with an idempotent ``PUT`` keyed by capture and
engine, so a crash mid-frame loses nothing (the capture stays in the backlog) and writes nothing
twice. An image that cannot be read is stored as ``failed`` with the reason, never retried.

The REP endpoint ``indexer.sock`` answers ``get_status``; state goes out as ``indexer.status``.
"""

from __future__ import annotations

import asyncio

import structlog
import zmq.asyncio
from PIL import Image

from bus import BadReply, CaptureFrame, Endpoints, NoArgs, Publisher, Replier, endpoints
from bus.codec import decode_event
from bus.messages import IndexerState, IndexerStatus
from bus.ops import IndexerOps
from bus.subscriber import subscribe, topic_of
from services.foundation.backend_client import BackendClient, BackendUnavailable
from services.foundation.delays import DelayRule, Delays
from services.foundation.supervision.lock import InstanceLock
from services.indexer import ocr, regions
from services.indexer.ocr import Engine, EngineMissing, ImageUndecodable, OcrFailed, Word
from services.indexer.pauses import CaptureWatch, Pauses, watch_power
from services.indexer.queue import Job, WorkQueue
from services.indexer.settings import IndexerSettings
from services.indexer.status import StatusBoard
from services.indexer.store import (
    CaptureGone,
    CaptureText,
    ImageUnreadable,
    TextRejected,
    TextStore,
)

log = structlog.get_logger("indexer.service")

STORE_RETRY = DelayRule(initial=0.2, maximum=5.0)  # seconds before storing a text again
DISABLED = "indexer.enabled is off in the configuration"


class IndexerService:
    """Everything the indexer process runs, built from one settings object."""

    def __init__(self, settings: IndexerSettings, bus: Endpoints) -> None:
        self.settings = settings
        self.bus = bus
        self.publisher = Publisher(bus.publish)
        self.board = StatusBoard(self.publisher)
        self.replier = Replier(bus.indexer)
        self.replier.register(IndexerOps.GET_STATUS, self.handle_get_status)
        self.backend = BackendClient(bus, timeout=settings.request_timeout)
        self.store = TextStore(self.backend)
        self.queue = WorkQueue()
        self.wake = asyncio.Event()  # anything that may let the work loop go on
        self.backend.watch(self.wake)
        self.pauses = Pauses(self.wake)
        self.pauses.set("config", None if settings.enabled else DISABLED)
        self.capture = CaptureWatch(bus.events, bus.capture, self.pauses)
        self.engine: Engine | None = None
        self.engine_missing: str | None = None
        # per monitor: the last frame read (grey) and its words, what the next is compared with
        self.references: dict[int, tuple[Image.Image, list[Word]]] = {}
        self._backlog_due = True
        self._retry = Delays(STORE_RETRY)

    async def run(self) -> None:
        """Serve and index until cancelled; :class:`~bus.SetupError` if one already runs here."""
        with InstanceLock(self.bus.file(endpoints.INDEXER_LOCK), "ctxbus indexer"):
            await self._run_locked()

    async def _run_locked(self) -> None:
        self.replier.bind()
        self.publisher.connect()
        await self.board.publish()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.replier.serve())
                tasks.create_task(self.backend.follow())
                tasks.create_task(self.board.run())
                tasks.create_task(self.capture.run())
                tasks.create_task(watch_power(self.pauses, self.settings.power_every))
                tasks.create_task(self._watch_engine())
                tasks.create_task(self._watch_frames())
                tasks.create_task(self._watch_backend())
                tasks.create_task(self._work())
        finally:
            await self._shut_down()

    async def _shut_down(self) -> None:
        await self.board.set_state("stopped")
        await self.backend.aclose()
        self.publisher.close()

    # -- sources of work and of pauses ---------------------------------------------------------

    async def _watch_engine(self) -> None:
        """Find tesseract, and look again every ``engine_every`` seconds while it is missing."""
        while True:
            if self.engine is None:
                try:
                    self.engine = await ocr.find_engine(self.settings.languages)
                    self.engine_missing = None
                    self.board.engine = self.engine.name
                    log.info("engine", engine=self.engine.name, languages=self.engine.languages)
                except EngineMissing as exc:
                    if self.engine_missing != str(exc):
                        log.warning("engine_missing", reason=str(exc))
                    self.engine_missing = str(exc)
                self.wake.set()
            await asyncio.sleep(self.settings.engine_every)  # the look's period

    async def _watch_frames(self) -> None:
        """Queue every capture announced on ``capture.frame``, at once."""
        sock = subscribe(zmq.asyncio.Context.instance(), self.bus.events, [endpoints.CAPTURE_FRAME])
        try:
            while True:
                frames = await sock.recv_multipart()
                if topic_of(frames) != endpoints.CAPTURE_FRAME:
                    continue
                try:
                    _, frame = decode_event(frames, CaptureFrame)
                except BadReply as exc:
                    log.warning("bad_frame_event", error=str(exc))
                    continue
                self._add(Job(id=frame.id, captured_at=frame.captured_at, monitor=frame.monitor))
        finally:
            sock.close(linger=0)

    async def _watch_backend(self) -> None:
        """Look at the backlog again whenever the backend (re)starts running."""
        changed = self.backend.watch()
        while True:
            await changed.wait()
            changed.clear()
            if self.backend.running.is_set():
                self._backlog_due = True
                self.wake.set()

    def _add(self, job: Job) -> bool:
        added = self.queue.push(job)
        if added:
            self.board.set_queued(len(self.queue))
            self.wake.set()
        return added

    # -- the work loop -------------------------------------------------------------------------

    def _blocker(self) -> tuple[IndexerState, str | None] | None:
        """Why no frame can be read now, as (state, reason); None when one can."""
        if self.engine is None and self.engine_missing is None:
            return "starting", "looking for tesseract"
        if self.engine is None:
            return "unavailable", self.engine_missing or ""
        if self.pauses.reason is not None:
            return "paused", self.pauses.reason
        if not self.backend.running.is_set():
            return "paused", "waiting for the backend"
        return None

    async def _work(self) -> None:
        while True:
            self.wake.clear()
            blocker = self._blocker()
            if blocker is not None:
                await self.board.set_state(*blocker)
                await self.wake.wait()
                continue
            job = self.queue.pop()
            if job is None:
                if await self._refill():
                    continue
                await self.board.set_state("idle")
                await self._idle()
                continue
            self.board.set_queued(len(self.queue))
            await self._index(job)

    async def _idle(self) -> None:
        """Wait for work; after ``backlog_every`` seconds without any, look at the backlog."""
        try:
            async with asyncio.timeout(self.settings.backlog_every):
                await self.wake.wait()
        except TimeoutError:
            self._backlog_due = True

    async def _refill(self) -> bool:
        """Queue captures from the backend's backlog, if due; whether any new one came."""
        if not self._backlog_due:
            return False
        self._backlog_due = False
        try:
            items = await self.store.backlog(self.settings.backlog_batch)
        except (BackendUnavailable, TextRejected) as exc:
            log.info("backlog_unavailable", error=str(exc))
            return False
        added = sum(
            self._add(Job(id=item.id, captured_at=item.captured_at, monitor=item.monitor))
            for item in items
        )
        self._backlog_due = added > 0  # more may wait behind this batch
        return added > 0

    async def _index(self, job: Job) -> None:
        """Read one capture and store its text (or why it has none)."""
        await self.board.set_state("running", current=job.id)
        try:
            text = await self._read(job)
        except CaptureGone:
            log.info("capture_gone", id=job.id)
            return
        except (BackendUnavailable, EngineMissing, OSError) as exc:
            log.info("read_postponed", id=job.id, error=str(exc))
            if isinstance(exc, OSError | EngineMissing):
                self.engine, self.engine_missing = None, f"tesseract stopped working: {exc}"
            self.queue.put_back(job)
            return
        await self._store(job, text)

    def _failed(self, reason: str) -> CaptureText:
        assert self.engine is not None
        return CaptureText(self.engine.name, self.engine.languages, [], failed=reason)

    async def _read(self, job: Job) -> CaptureText:
        """The text of ``job``'s capture, or a ``failed`` text saying why it cannot be read."""
        engine = self.engine
        assert engine is not None
        try:
            data = await self.store.image(job.id)
            grey = await asyncio.to_thread(ocr.decode_image, data)
            words = await self._ocr(engine, job.monitor, grey)
        except (ImageUnreadable, ImageUndecodable, OcrFailed) as exc:
            log.warning("capture_unreadable", id=job.id, reason=str(exc))
            return self._failed(str(exc))
        return CaptureText(engine.name, engine.languages, words)

    async def _ocr(self, engine: Engine, monitor: int, grey: Image.Image) -> list[Word]:
        """Read the regions of ``grey`` that changed since the monitor's last frame read."""
        before, known = self.references.get(monitor, (None, []))
        plan = await asyncio.to_thread(regions.plan, before, grey, known)
        if plan.full:
            reading = await ocr.read(engine, grey)
            words = reading.words
        else:
            reading = await ocr.read_regions(engine, grey, plan.regions)
            words = regions.carry_over(known, plan.regions) + reading.words
            words.sort(key=lambda word: (word.y, word.x))
        self.references[monitor] = (grey, words)
        self.board.frame_cpu(reading.cpu_s)
        log.debug("frame_read", full=plan.full, regions=len(plan.regions), cpu_s=reading.cpu_s)
        return words

    async def _store(self, job: Job, text: CaptureText) -> None:
        """PUT the text, waiting for the backend as long as it takes; count it."""
        while True:
            try:
                created = await self.store.put(job.id, text)
            except CaptureGone:
                log.info("capture_gone", id=job.id)
                return
            except TextRejected as exc:
                log.error("text_rejected", id=job.id, error=str(exc))  # noqa: TRY400 - no trace
                self.board.count(failed=1)
                return
            except BackendUnavailable as exc:
                await self._wait_backend(job, str(exc))
                continue
            self._retry.reset()
            self.board.count(done=0 if text.failed else 1, failed=1 if text.failed else 0)
            log.info(
                "text_stored", id=job.id, words=len(text.words), new=created, failed=text.failed
            )
            return

    async def _wait_backend(self, job: Job, error: str) -> None:
        log.info("store_postponed", id=job.id, error=error)
        await self.board.set_state("paused", "waiting for the backend", current=job.id)
        await asyncio.sleep(self._retry.next())  # the retry's backoff
        await self.backend.running.wait()
        await self.board.set_state("running", current=job.id)

    # -- ops -----------------------------------------------------------------------------------

    async def handle_get_status(self, _: NoArgs) -> IndexerStatus:
        """The latest ``indexer.status`` (published first if the counters moved)."""
        return await self.board.snapshot()
