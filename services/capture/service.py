"""The capture process: grab on an interval or on demand, keep what changed, pass it on to upload.

One loop grabs every monitor each ``interval`` seconds (measured from the start of the previous
grab) unless paused. A grab error puts the process in ``unavailable`` with the reason and retries
with a growing delay; the process never exits over it. The REP endpoint ``capture.sock`` answers
``pause``, ``resume``, ``capture_now`` and ``get_status``; the last three share one code path with
the loop. Kept frames and state go out as ``capture.frame`` and ``capture.status``.

The change detector starts from the fingerprints of the frames the previous process kept
(``fingerprints.py``), saved as each kept frame is stored or spooled, so a restart does not keep
an unchanged screen again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from bus import Endpoints, NoArgs, OpError, Publisher, Replier, endpoints
from bus.messages import (
    CaptureFrame,
    CaptureNowArgs,
    CaptureNowResult,
    CaptureState,
    CaptureStatus,
    CaptureTrigger,
    ExcludeRule,
)
from bus.ops import CaptureOps
from services.capture.attribution import Attribution
from services.capture.change import ChangeDetector
from services.capture.context import WindowContext
from services.capture.drops import DropReason
from services.capture.encoder import Encoder
from services.capture.fingerprints import FingerprintStore
from services.capture.frames import RawFrame, Shot
from services.capture.grabber import Grabber, GrabError
from services.capture.posting import StoredCapture
from services.capture.settings import CaptureSettings
from services.capture.spool import Spool
from services.capture.status import StatusBoard
from services.capture.uploader import Uploader
from services.capture.watch import Watcher
from services.foundation.backend_client import BackendClient
from services.foundation.delays import DelayRule, Delays
from services.foundation.supervision.lock import InstanceLock

log = structlog.get_logger("capture.service")

GRAB_RETRY = DelayRule(initial=0.5, maximum=5.0)  # seconds before retrying a failed grab
BACKEND_DISK_FULL = "disk_full"  # the error code of the backend's 507


class CaptureService:
    """Everything the capture process runs, built from one settings object."""

    def __init__(self, settings: CaptureSettings, bus: Endpoints) -> None:
        self.settings = settings
        self.bus = bus
        self.publisher = Publisher(bus.publish)
        self.board = StatusBoard(self.publisher, settings.interval)
        self.grabber = Grabber(settings.display)
        self.fingerprints = FingerprintStore(settings.spool_dir)
        self.detector = ChangeDetector(settings.threshold, self.fingerprints.load())
        self.encoder = Encoder(settings)
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes, settings.spool_max_age)
        self.backend = BackendClient(bus, timeout=settings.upload_timeout)
        self.uploader = Uploader(self.backend, self.spool, self)
        self.context = WindowContext(settings)
        self.watcher = Watcher(
            self.context.reader, self, settle=settings.settle, idle_after=settings.idle_after
        )
        self.replier = Replier(bus.capture)
        self._register_ops()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._awake = asyncio.Event()  # clear while the user is idle
        self._awake.set()
        self._pending: CaptureTrigger | None = None  # a grab asked for by a window change, input
        self._kick = asyncio.Event()
        self._grab_lock = asyncio.Lock()
        self._retry = Delays(GRAB_RETRY)

    def _register_ops(self) -> None:
        self.replier.register(CaptureOps.PAUSE, self.handle_pause)
        self.replier.register(CaptureOps.RESUME, self.handle_resume)
        self.replier.register(CaptureOps.CAPTURE_NOW, self.handle_capture_now)
        self.replier.register(CaptureOps.GET_STATUS, self.handle_get_status)
        self.replier.register(CaptureOps.ADD_EXCLUDE, self.handle_add_exclude)

    async def run(self) -> None:
        """Serve and capture until cancelled; :class:`~bus.SetupError` if one already runs here."""
        with InstanceLock(self.bus.file(endpoints.CAPTURE_LOCK), "ctxbus capture"):
            await self._run_locked()

    async def _run_locked(self) -> None:
        """The spool keeps whatever was not stored yet when this ends."""
        self.replier.bind()
        self.publisher.connect()
        self.board.spool(len(self.spool), self.spool.size_bytes)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.replier.serve())
                tasks.create_task(self.backend.follow())
                tasks.create_task(self.uploader.run())
                tasks.create_task(self.board.run())
                tasks.create_task(self._loop())
                tasks.create_task(self.watcher.run())
        finally:
            await self._shut_down()

    async def _shut_down(self) -> None:
        await self.uploader.spool_pending()
        await self.board.set_state("stopped")
        await self.backend.aclose()
        self.grabber.close()
        self.context.close()
        self.publisher.close()

    # -- the loop ----------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            await self._resumed.wait()
            await self._awake.wait()
            started = time.monotonic()
            delay = self.settings.interval
            trigger, self._pending = self._pending or "interval", None
            try:
                await self.capture_once(force=trigger == "resume", trigger=trigger)
            except GrabError:
                delay = self._retry.next()
            except Exception as exc:  # logged with its traceback; a bug must not end capture
                log.exception("capture_failed")
                await self.board.set_state("unavailable", f"capture failed: {exc!r}; retrying")
                delay = self._retry.next()
            await self._wait(started + delay - time.monotonic())

    async def _wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, cut short by pause, resume or an interval change."""
        self._kick.clear()
        if self._pending is not None:  # asked for during the grab
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await self._kick.wait()

    async def capture_once(
        self, *, force: bool = False, trigger: CaptureTrigger = "interval"
    ) -> CaptureNowResult:
        """Grab every monitor and hand the changed frames on; :class:`GrabError` if impossible.

        Frames of monitors that show an excluded window are dropped here, before any encoding.
        """
        async with self._grab_lock:
            frames, seen = await self._grab()
            tags = seen.tags(trigger)
            kept = 0
            for frame in frames:
                # counted with its verdict: grabbed == kept + skipped + excluded always
                if frame.monitor in seen.excluded:
                    self.board.count("grabbed")
                    self.board.count("excluded")
                    continue
                keep = await self._judge(frame, force=force)
                self.board.count("grabbed")
                if keep:
                    kept += 1
                    self.board.count("kept")
                    shot = await asyncio.to_thread(self.encoder.encode, frame, tags)
                    self.uploader.submit(shot)
                else:
                    self.board.count("skipped")
            return CaptureNowResult(kept=kept, skipped=len(frames) - kept - len(seen.excluded))

    async def _grab(self) -> tuple[list[RawFrame], Attribution]:
        try:
            frames, seen = await asyncio.to_thread(self.context.grab, self.grabber.grab_all)
        except GrabError as exc:
            if self.board.state != "unavailable":
                log.warning("capture_unavailable", reason=exc.reason)
                self.detector.forget()
            await self.board.set_state("unavailable", exc.reason)
            raise
        self._retry.reset()
        self.board.windows(self.context.unavailable_reason)
        if self.board.state in ("starting", "unavailable"):
            await self.board.set_state(self._active_state())
        return frames, seen

    def _active_state(self) -> CaptureState:
        if not self._resumed.is_set():
            return "paused"
        return "running" if self._awake.is_set() else "idle"

    async def _judge(self, frame: RawFrame, *, force: bool) -> bool:
        return await asyncio.to_thread(self._judge_now, frame, force)

    def _judge_now(self, frame: RawFrame, force: bool) -> bool:
        """Whether to keep ``frame``; a kept one's fingerprint waits until the frame is safe."""
        if force:
            self.detector.force_keep(frame)
        elif not self.detector.check(frame).keep:
            return False
        fingerprint = self.detector.kept(frame.monitor)
        if fingerprint is not None:
            self.fingerprints.expect(frame.id, frame.monitor, fingerprint)
        return True

    # -- ops ---------------------------------------------------------------------------------------

    async def handle_pause(self, _: NoArgs) -> CaptureStatus:
        """Stop grabbing on the interval once a grab in progress ends; the new status.

        ``capture_now`` still works while paused.
        """
        self._resumed.clear()
        self._kick.set()
        async with self._grab_lock:  # a grab in progress finishes first: nothing is kept after
            pass
        if self.board.state != "unavailable":
            await self.board.set_state("paused")
        return await self.board.snapshot()

    async def handle_resume(self, _: NoArgs) -> CaptureStatus:
        """Grab on the interval again, starting now; the new status."""
        self._resumed.set()
        self._kick.set()
        if self.board.state == "paused":
            await self.board.set_state(self._active_state())
        return await self.board.snapshot()

    async def handle_capture_now(self, args: CaptureNowArgs) -> CaptureNowResult:
        """Grab every monitor at once, even while paused."""
        try:
            return await self.capture_once(force=args.force, trigger="manual")
        except GrabError as exc:
            raise OpError("not_running", exc.reason) from exc

    async def handle_add_exclude(self, rule: ExcludeRule) -> CaptureStatus:
        """Never record windows matching ``rule`` from the next grab on, in this run and later.

        A malformed rule never gets here: its arguments are refused with ``bad_request``.
        """
        try:
            await self.context.add_rule(rule)
        except OSError as exc:
            reason = f"the rule applies now but could not be saved: {exc}"
            raise OpError("internal", reason) from exc
        return await self.board.snapshot()

    async def handle_get_status(self, _: NoArgs) -> CaptureStatus:
        """The latest ``capture.status`` (published first if the counters moved)."""
        self.board.spool(len(self.spool), self.spool.size_bytes)
        return await self.board.snapshot()

    # -- what the watcher reports (WatchSink) ------------------------------------------------------

    async def window_settled(self) -> None:
        """The active window changed and stayed: grab now (unless paused or idle)."""
        if self._resumed.is_set() and self._awake.is_set():
            self._pending = "window"
            self._kick.set()

    async def idle(self) -> None:
        """The user went idle: no interval grabs until input comes back."""
        self._awake.clear()
        self._kick.set()
        if self.board.state == "running":
            await self.board.set_state("idle")

    async def active(self) -> None:
        """Input again: grab at once (a ``resume`` frame), then on the interval."""
        self._awake.set()
        if self.board.state == "idle":
            await self.board.set_state("running")
        if self._resumed.is_set():
            self._pending = "resume"
            self._kick.set()

    # -- what the uploader reports (UploadSink) ----------------------------------------------------

    async def stored(self, shot: Shot, record: StoredCapture) -> None:
        await asyncio.to_thread(self.fingerprints.commit, shot.id)
        self.board.disk_full("backend", False)
        self.board.disk_full("spool", False)  # frames flow: the spool's disk no longer matters
        self.board.count("uploaded")
        self.board.spool(len(self.spool), self.spool.size_bytes)
        frame = CaptureFrame(
            id=record.id,
            key=shot.id,
            monitor=shot.meta.monitor,
            captured_at=shot.meta.captured_at,
            width=shot.meta.width,
            height=shot.meta.height,
            bytes=record.bytes,
            app=shot.meta.app,
            title=shot.meta.title,
            trigger=shot.meta.trigger,
        )
        await self.publisher.publish(endpoints.CAPTURE_FRAME, frame)

    def spooled(self, shot: Shot) -> None:
        # on the loop: one small write, only while the backend is away (the sink call is sync)
        self.fingerprints.commit(shot.id)
        self.board.disk_full("spool", False)
        self.board.count("spooled")
        self.board.spool(len(self.spool), self.spool.size_bytes)

    def dropped(self, frame_ids: list[str], reason: DropReason, detail: str) -> None:
        self.fingerprints.discard(frame_ids)
        if reason == "disk_full":
            self.board.disk_full("spool", True)
        self.board.count("dropped", len(frame_ids))
        self.board.error(detail)

    def failed(self, reason: str, code: str | None = None) -> None:
        if code == BACKEND_DISK_FULL:
            self.board.disk_full("backend", True)
        self.board.error(reason)
