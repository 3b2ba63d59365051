"""The uploader: a kept shot is spooled, also when stopped mid-write; spooled ones are posted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest
import structlog

from bus import BackendStatus, Endpoints, MainOps, PortInfo, Replier
from bus.messages import NoArgs
from services.capture.drops import DropReason
from services.capture.frames import Shot, ShotMeta, new_frame_id
from services.capture.posting import StoredCapture
from services.capture.spool import Spool
from services.capture.uploader import Uploader
from services.foundation.backend_client import BackendClient
from tests.backend.conftest import TOKEN, Running, backend_config, encode_image, serve_backend
from tests.services.capture.small_disk import small_disk
from tests.services.capture.test_spool import shot

SPOOL_MAX_BYTES = 10_000_000
SPOOL_MAX_AGE = 3600.0
UPLOAD_TIMEOUT = 5.0
STORE_DEADLINE = 30.0  # seconds for a spooled shot to be posted and stored

P = ParamSpec("P")
T = TypeVar("T")


class Sink:
    """Records the shots the uploader reports as spooled; anything else fails the test."""

    def __init__(self) -> None:
        self.spooled_ids: list[str] = []

    async def stored(self, shot: Shot, record: StoredCapture) -> None:
        raise AssertionError(f"stored {shot.id} with no backend")

    def spooled(self, shot: Shot) -> None:
        self.spooled_ids.append(shot.id)

    def dropped(self, frame_ids: list[str], reason: DropReason, detail: str) -> None:
        raise AssertionError(f"dropped {frame_ids}: {reason}: {detail}")

    def failed(self, reason: str, code: str | None = None) -> None:
        raise AssertionError(reason)


class BusyWorker(ThreadPoolExecutor):
    """The loop's only worker thread, busy until ``release`` is set: later calls wait in line."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.release = threading.Event()
        super().submit(self.release.wait)
        self.queued = asyncio.Event()  # set once a call waits in line

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = super().submit(fn, *args, **kwargs)
        self.queued.set()
        return future


@pytest.fixture
async def busy_worker() -> AsyncIterator[BusyWorker]:
    """A :class:`BusyWorker` as the running loop's default executor."""
    executor = BusyWorker()
    asyncio.get_running_loop().set_default_executor(executor)
    yield executor
    executor.release.set()


async def test_a_shot_being_spooled_when_stopped_is_in_the_spool(
    tmp_path: Path, endpoints: Endpoints, busy_worker: BusyWorker
) -> None:
    """Cancelled before a worker thread took its spool write, the shot still reaches the spool."""
    spool = Spool(tmp_path / "spool", SPOOL_MAX_BYTES, SPOOL_MAX_AGE)
    backend = BackendClient(endpoints, timeout=UPLOAD_TIMEOUT)
    sink = Sink()
    uploader = Uploader(backend, spool, sink)
    kept = shot()
    uploader.submit(kept)
    task = asyncio.create_task(uploader.run())
    await busy_worker.queued.wait()  # the uploader took the shot; its spool write waits in line
    task.cancel()
    busy_worker.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await uploader.spool_pending()
    await backend.aclose()
    assert spool.ids() == [kept.id]
    assert sink.spooled_ids == [kept.id]


class RecordingSink(Sink):
    """Records drops and failures too."""

    def __init__(self) -> None:
        super().__init__()
        self.drops: list[tuple[list[str], DropReason]] = []
        self.failures: list[str] = []

    def dropped(self, frame_ids: list[str], reason: DropReason, detail: str) -> None:
        self.drops.append((frame_ids, reason))

    def failed(self, reason: str, code: str | None = None) -> None:
        self.failures.append(reason)


async def test_a_spool_write_on_a_full_disk_is_a_logged_disk_full_drop(
    tmp_path: Path, endpoints: Endpoints
) -> None:
    """No room for the spool: the shot is dropped as disk_full and logged; with room it spools."""
    with small_disk(tmp_path / "disk") as disk:
        spool = Spool(disk.path / "spool", SPOOL_MAX_BYTES, SPOOL_MAX_AGE)
        backend = BackendClient(endpoints, timeout=UPLOAD_TIMEOUT)
        sink = RecordingSink()
        uploader = Uploader(backend, spool, sink)
        disk.fill()
        lost = shot(100_000)
        with structlog.testing.capture_logs() as logs:
            uploader.submit(lost)
            await uploader.spool_pending()
        assert sink.drops == [([lost.id], "disk_full")]
        assert "the disk is full" in sink.failures[0]
        dropped = [e for e in logs if e["event"] == "frames_dropped"]
        assert [(e["reason"], e["log_level"]) for e in dropped] == [("disk_full", "warning")]
        assert lost.id in dropped[0]["detail"]
        disk.free()
        kept = shot(100_000)
        uploader.submit(kept)
        await uploader.spool_pending()
        await backend.aclose()
        assert spool.ids() == [kept.id]
        assert sink.spooled_ids == [kept.id]


class StoringSink(RecordingSink):
    """Records stored shots too, with a wait for them."""

    def __init__(self) -> None:
        super().__init__()
        self.stored_ids: list[str] = []
        self._stored = asyncio.Event()

    async def stored(self, shot: Shot, record: StoredCapture) -> None:
        self.stored_ids.append(shot.id)
        self._stored.set()

    async def until_stored(self, frame_id: str) -> None:
        async with asyncio.timeout(STORE_DEADLINE):
            while frame_id not in self.stored_ids:
                self._stored.clear()
                await self._stored.wait()


def webp_shot() -> Shot:
    """A real small WebP the backend stores."""
    meta = ShotMeta(
        id=new_frame_id(),
        monitor=1,
        captured_at=time.time(),
        width=64,
        height=48,
        media_type="image/webp",
    )
    return Shot(meta=meta, data=encode_image("WEBP", (64, 48)))


@asynccontextmanager
async def main_pointing_at(endpoints: Endpoints, running: Running) -> AsyncIterator[None]:
    """main's ``get_port`` on the control socket, naming the test's real backend."""
    info = PortInfo(
        port=running.config.port, base_url=running.base_url, token=TOKEN, state="running"
    )

    async def get_port(_: NoArgs) -> PortInfo:
        return info

    replier = Replier(endpoints.control)
    replier.register(MainOps.GET_PORT, get_port)
    serving = asyncio.create_task(replier.serve())
    try:
        yield
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


async def test_a_forged_stopped_does_not_stop_uploads(tmp_path: Path, endpoints: Endpoints) -> None:
    """Told ``stopped`` (a forged event) while the backend runs, capture still uploads."""
    config = backend_config(tmp_path)
    async with serve_backend(config) as running, main_pointing_at(endpoints, running):
        spool = Spool(tmp_path / "spool", SPOOL_MAX_BYTES, SPOOL_MAX_AGE)
        backend = BackendClient(endpoints, timeout=UPLOAD_TIMEOUT)
        forged = BackendStatus(state="stopped", port=running.config.port, instance="main", seq=9)
        await backend.observe(forged)  # what a follower passes on: a new instance, so get_port
        assert not backend.running.is_set()
        sink = StoringSink()
        uploader = Uploader(backend, spool, sink)
        kept = webp_shot()
        uploader.submit(kept)
        task = asyncio.create_task(uploader.run())
        try:
            await sink.until_stored(kept.id)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await backend.aclose()
    assert spool.ids() == []
