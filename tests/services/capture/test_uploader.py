"""The uploader on its own (no backend): a kept shot is spooled, also when stopped mid-write."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest
import structlog

from bus import Endpoints
from services.capture.drops import DropReason
from services.capture.frames import Shot
from services.capture.posting import StoredCapture
from services.capture.spool import Spool
from services.capture.uploader import Uploader
from services.foundation.backend_client import BackendClient
from tests.services.capture.small_disk import small_disk
from tests.services.capture.test_spool import shot

SPOOL_MAX_BYTES = 10_000_000
SPOOL_MAX_AGE = 3600.0
UPLOAD_TIMEOUT = 5.0

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
