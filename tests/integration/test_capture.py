"""Capture with a real main and backend under Xvfb: frames stored, skipped, none lost or doubled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from bus.ops import CaptureOps
from tests.fixtures.display import XServer
from tests.fixtures.processes import MainProcess, running_main
from tests.frontend.conftest import FrontendProcess
from tests.services.capture.harness import CaptureProcess, running_capture
from tests.services.capture.small_disk import small_disk

pytestmark = pytest.mark.display

BACKEND_APP = "backend.app:create_app"
FAST = ("--interval", "0.2")
KILLS = 10
PAGE = 24  # the timeline's page size (frontend/static/timeline.js)
UI_TIMEOUT = 30_000  # ms
BACKEND_DISK = "16m"  # room for the backend's 4 MiB disk reserve, its database and a few frames
SETTLE_AFTER_START = 1.2  # seconds a backend serves before the next kill (main's min_uptime is 1 s)


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    """main with the real backend app (storage and the captures API), ready."""
    async with running_main(runtime_dir, app=BACKEND_APP) as main:
        yield main


async def stored_captures(main: MainProcess) -> list[dict[str, object]]:
    """Every capture the backend lists, following the cursor to the end."""
    info = await main.port_info()
    items: list[dict[str, object]] = []
    headers = {"Authorization": f"Bearer {info.token}"}
    async with httpx.AsyncClient(base_url=info.base_url, headers=headers) as client:
        cursor: str | None = None
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            response = await client.get("/api/captures", params=params)
            response.raise_for_status()
            page = response.json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@contextlib.asynccontextmanager
async def changing_screen(xvfb: XServer) -> AsyncIterator[None]:
    """Repaint the screen a new colour again and again (a real X client) while the block runs."""

    async def paint() -> None:
        while True:
            await asyncio.to_thread(xvfb.fill, f"#{random.randrange(1 << 24):06x}")
            await asyncio.sleep(0.05)  # sleep-ok: paces the painting, a new colour every ~60 ms

    task = asyncio.ensure_future(paint())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def settle(capture: CaptureProcess) -> None:
    """Stop grabbing and wait until every kept frame is stored (nothing queued or spooled)."""
    seen = len(capture.status.events)
    await capture.op(CaptureOps.PAUSE)
    await capture.status.wait_for(
        lambda s: (
            s.counters.uploaded + s.counters.dropped == s.counters.kept and s.spool_frames == 0
        ),
        after=seen,
    )


async def test_captures_appear_in_the_backend(
    real_main: MainProcess, runtime_dir: Path, xvfb: XServer
) -> None:
    """Kept frames are stored by the backend and announced on capture.frame with its ids."""
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        async with changing_screen(xvfb):
            await capture.frames.wait_for(lambda _: len(capture.frames.events) >= 3)
        await settle(capture)
        stored = await stored_captures(real_main)
        by_id = {item["id"]: item for item in stored}
        for frame in capture.frames.events:
            record = by_id[frame.id]
            assert record["idempotency_key"] == frame.key
            assert (record["width"], record["height"]) == (1920, 1080)
            assert record["content_type"] == "image/webp"


async def test_unchanged_screen_stores_one_frame(
    real_main: MainProcess, runtime_dir: Path, xvfb: XServer
) -> None:
    """A still screen: the first frame is stored, the following grabs are skipped."""
    xvfb.fill("#336699")
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        status = await capture.wait_status(lambda s: s.counters.grabbed >= 8)
        await settle(capture)
    assert (status.counters.kept, status.counters.skipped) == (1, status.counters.grabbed - 1)
    assert len(await stored_captures(real_main)) == 1


async def kill_serving_backend(main: MainProcess, capture: CaptureProcess) -> None:
    """SIGKILL the serving backend once it has served a while, then wait for its successor."""
    serving = await main.status()
    assert serving.state == "running"
    await capture.frames.wait_for(lambda f: f.ts >= serving.ts + SETTLE_AFTER_START)
    seen = len(main.log.events)
    os.kill(serving.pid or 0, signal.SIGKILL)
    await main.log.wait_for(lambda e: e.state == "running" and e.pid != serving.pid, after=seen)


async def test_backend_killed_ten_times_every_kept_frame_stored_once(
    real_main: MainProcess, runtime_dir: Path, xvfb: XServer
) -> None:
    """SIGKILL the backend 10 times while capturing every 200 ms: kept ids == stored, no dups."""
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        async with changing_screen(xvfb):
            for _ in range(KILLS):
                await kill_serving_backend(real_main, capture)
            await capture.frames.wait_for(lambda _: True, after=len(capture.frames.events))
        await settle(capture)
        status = await capture.get_status()
        keys = [str(item["idempotency_key"]) for item in await stored_captures(real_main)]
    counters = status.counters
    announced = [frame.key for frame in capture.frames.events]
    assert counters.dropped == 0
    assert len(keys) == len(set(keys)), "a frame was stored twice"
    assert sorted(keys) == sorted(announced)
    assert len(keys) == counters.kept == counters.uploaded
    assert counters.kept > 3 * KILLS


@contextlib.asynccontextmanager
async def dashboard(main: MainProcess, runtime_dir: Path, page: Page) -> AsyncIterator[None]:
    """A real frontend for ``main``, logged in on ``page``."""
    front = FrontendProcess(main.endpoints)
    await front.start(runtime_dir)
    try:
        await page.goto(await front.login_url())
        yield
    finally:
        assert front.child is not None
        code = await front.stop()
        assert code == 0, f"frontend exited with {code}:\n" + "\n".join(front.child.tail())


@pytest.mark.browser
async def test_captures_appear_on_the_dashboard_live(
    real_main: MainProcess, runtime_dir: Path, xvfb: XServer, page: Page
) -> None:
    """The timeline shows stored frames newest first, adds new ones live, opens one in a viewer."""
    xvfb.fill("white")
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        await capture.frames.wait_for(lambda _: True)
        async with dashboard(real_main, runtime_dir, page):
            tiles = page.get_by_test_id("capture-tile")
            await expect(tiles).to_have_count(1, timeout=UI_TIMEOUT)
            await expect(page.get_by_test_id("capture-state")).to_have_text("running")
            seen = len(capture.frames.events)
            xvfb.fill("#aa3311")
            newest = await capture.frames.wait_for(lambda _: True, after=seen)
            await expect(tiles).to_have_count(2, timeout=UI_TIMEOUT)
            await expect(tiles.first).to_have_attribute("data-id", newest.id)
            await expect(page.get_by_test_id("capture-counters")).to_contain_text("kept 2")
            await tiles.locator("img").evaluate_all(
                "imgs => Promise.all(imgs.map(i => i.decode()))"
            )
            shot = runtime_dir / "capture-timeline.png"  # the README shows dashboard.png
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 0
            await tiles.first.get_by_role("button").click()
            viewer = page.get_by_test_id("capture-viewer")
            await expect(viewer).to_be_visible()
            width = await viewer.locator("img").evaluate(
                "img => img.decode().then(() => img.naturalWidth)"
            )
            assert width == 1920


@pytest.mark.browser
async def test_dashboard_pages_back_through_history(
    real_main: MainProcess, runtime_dir: Path, xvfb: XServer, page: Page
) -> None:
    """With more captures than a page, "Older captures" loads the rest, still newest first."""
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        async with changing_screen(xvfb):
            await capture.frames.wait_for(lambda _: len(capture.frames.events) >= PAGE + 4)
        await settle(capture)
        total = len(await stored_captures(real_main))
        async with dashboard(real_main, runtime_dir, page):
            tiles = page.get_by_test_id("capture-tile")
            await expect(tiles).to_have_count(PAGE, timeout=UI_TIMEOUT)
            await page.get_by_test_id("capture-older").click()
            await expect(tiles).to_have_count(total, timeout=UI_TIMEOUT)
            times = [
                float(t or 0) for t in await tiles.evaluate_all("ts => ts.map(t => t.dataset.at)")
            ]
            assert times == sorted(times, reverse=True)


@pytest.mark.browser
async def test_dashboard_controls_pause_resume_and_capture_now(
    real_main: MainProcess, runtime_dir: Path, xvfb: XServer, page: Page
) -> None:
    """The pause, capture-now and resume buttons drive the capture process."""
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.state == "running")
        async with dashboard(real_main, runtime_dir, page):
            state = page.get_by_test_id("capture-state")
            await expect(state).to_have_text("running", timeout=UI_TIMEOUT)
            await page.get_by_test_id("capture-pause").click()
            await expect(state).to_have_text("paused", timeout=UI_TIMEOUT)
            xvfb.fill("#123456")
            await page.get_by_test_id("capture-now").click()
            await expect(page.get_by_test_id("capture-note")).to_contain_text("kept 1")
            await page.get_by_test_id("capture-resume").click()
            await expect(state).to_have_text("running", timeout=UI_TIMEOUT)


async def test_frames_wait_for_a_new_main_and_reach_its_backend(
    runtime_dir: Path, xvfb: XServer
) -> None:
    """main stops: kept frames are spooled; a new main (new token) starts: they are flushed."""
    xvfb.fill("white")
    async with running_capture(
        runtime_dir, ("--interval", "3600"), display=xvfb.display
    ) as capture:
        async with running_main(runtime_dir, app=BACKEND_APP):
            await capture.frames.wait_for(lambda _: True)
        for color in ("red", "green", "blue"):
            xvfb.fill(color)
            assert (await capture.capture_now()).kept == 1
        # no events reach us now: they travel through main's proxy
        async with running_main(runtime_dir, app=BACKEND_APP) as second:
            seen = len(capture.status.events)
            status = await capture.status.wait_for(
                lambda s: s.spool_frames == 0 and s.counters.uploaded == 4, after=seen
            )
            keys = {str(item["idempotency_key"]) for item in await stored_captures(second)}
    assert status.counters.dropped == 0
    assert status.counters.spooled >= 3
    assert keys == {frame.key for frame in capture.frames.events}
    assert len(keys) == 4


async def test_frames_spooled_by_a_previous_run_are_stored_once(
    runtime_dir: Path, xvfb: XServer
) -> None:
    """Frames spooled with no main are uploaded by the next process once; the same screen is not."""
    args = ("--interval", "3600")
    xvfb.fill("white")
    async with running_capture(runtime_dir, args, display=xvfb.display) as capture:
        for color in ("red", "green"):
            xvfb.fill(color)
            assert (await capture.capture_now(force=True)).kept == 1
    async with (
        running_main(runtime_dir, app=BACKEND_APP) as main,
        running_capture(runtime_dir, args, display=xvfb.display) as capture,
    ):
        status = await capture.wait_status(
            lambda s: s.counters.uploaded == 3 and s.spool_frames == 0 and s.counters.grabbed == 1
        )
        keys = [str(item["idempotency_key"]) for item in await stored_captures(main)]
    assert (status.counters.kept, status.counters.dropped) == (0, 0)  # green is still on screen
    assert len(keys) == len(set(keys)) == 3
    assert set(keys) == {frame.key for frame in capture.frames.events}


@pytest.mark.browser
async def test_a_full_backend_disk_holds_frames_in_the_spool_until_there_is_room(
    runtime_dir: Path, xvfb: XServer, page: Page
) -> None:
    """Uploads answered 507 disk_full: disk full in status and dashboard; room: the spool drains."""
    xvfb.fill("white")
    with small_disk(runtime_dir / "data", BACKEND_DISK) as disk:
        async with (
            running_main(runtime_dir, app=BACKEND_APP) as main,
            running_capture(runtime_dir, ("--interval", "3600"), display=xvfb.display) as capture,
            dashboard(main, runtime_dir, page),
        ):
            await capture.frames.wait_for(lambda _: True)  # the grab at start is stored
            disk.fill()
            for color in ("red", "green"):
                xvfb.fill(color)
                assert (await capture.capture_now()).kept == 1
            full = await capture.wait_status(lambda s: s.disk_full and s.spool_frames == 2)
            assert full.last_error is not None
            assert "disk_full" in full.last_error
            counters = page.get_by_test_id("capture-counters")
            await expect(counters).to_contain_text("disk full", timeout=UI_TIMEOUT)
            seen = len(capture.status.events)
            disk.free()
            status = await capture.status.wait_for(
                lambda s: s.spool_frames == 0 and not s.disk_full, after=seen
            )
            await expect(counters).not_to_contain_text("disk full", timeout=UI_TIMEOUT)
            keys = {str(item["idempotency_key"]) for item in await stored_captures(main)}
    assert (status.counters.uploaded, status.counters.dropped) == (3, 0)
    assert keys == {frame.key for frame in capture.frames.events}
    assert len(keys) == 3
