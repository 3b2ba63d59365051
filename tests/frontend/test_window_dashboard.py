"""What was on screen, on the dashboard (issue 9), in Debian's chromium: each tile's app and title,
the filter by app, the "today by app" chart, and "never record this app" against a real capture
process on an openbox desktop (the rule applies to the next window switch; the offer deletes)."""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from bench.scenery import XServer, running_xvfb
from bus.messages import CaptureFrame, ExcludeRule
from frontend.capture_actions import app_rule
from tests.backend.conftest import encode_image
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess
from tests.frontend.test_dashboard import UI_TIMEOUT, open_dashboard
from tests.services.capture.desktop import Win, activate, open_window, start_openbox
from tests.services.capture.harness import CaptureProcess, running_capture

pytestmark = pytest.mark.browser

SIZE = (640, 480)
FULL = "640x480+0+0"
TRIGGERED = ("--interval", "3600", "--settle", "0.3")  # a grab at start, then on window switches


def today_at(seconds: float) -> float:
    """Unix time ``seconds`` after this day's local midnight (the chart's day is the browser's)."""
    midnight = datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp() + seconds


async def backend_client(main: MainProcess) -> httpx.AsyncClient:
    """A client of the backend itself, with its bearer token (as capture uploads)."""
    info = await main.port_info()
    headers = {"Authorization": f"Bearer {info.token}"}
    return httpx.AsyncClient(base_url=info.base_url, headers=headers)


async def upload(
    client: httpx.AsyncClient, frames: list[tuple[float, str]], title: str = "doc"
) -> None:
    """Store one small capture per ``(captured_at, app)``, titled ``<app> — <title>``."""
    for at, app in frames:
        params: dict[str, Any] = {"captured_at": at, "monitor": 1, "width": 64, "height": 48}
        params |= {"app": app, "title": f"{app} — {title}"}
        headers = {"Idempotency-Key": f"{app}-{at}", "Content-Type": "image/webp"}
        answer = await client.post(
            "/api/captures", params=params, headers=headers, content=encode_image()
        )
        assert answer.status_code == 201, answer.text


async def test_tiles_show_app_and_title_and_the_filter_keeps_one_app(
    page: Page, frontend: FrontendProcess, real_main: MainProcess
) -> None:
    """Each tile names its app and title; choosing an app shows only its tiles; All: every one."""
    async with await backend_client(real_main) as client:
        await upload(client, [(today_at(10 + i), "Alpha") for i in range(3)])
        await upload(client, [(today_at(20 + i), "Beta") for i in range(2)])
    await open_dashboard(page, frontend)
    tiles = page.get_by_test_id("capture-tile")
    await expect(tiles).to_have_count(5, timeout=UI_TIMEOUT)
    beta = tiles.filter(has_text="Beta").first
    await expect(beta.get_by_test_id("capture-app")).to_have_text("Beta")
    await expect(beta.get_by_test_id("capture-title")).to_have_text("Beta — doc")
    pick = page.get_by_test_id("capture-app-filter")
    async with page.expect_response(lambda r: "app=Beta" in r.url) as answer:
        await pick.select_option("Beta")
    assert (await answer.value).ok
    await expect(tiles).to_have_count(2)
    await expect(page.get_by_test_id("capture-app")).to_have_text(["Beta", "Beta"])
    await pick.select_option("")
    await expect(tiles).to_have_count(5)


async def test_today_by_app_bars_follow_the_time_per_app(
    page: Page, frontend: FrontendProcess, real_main: MainProcess
) -> None:
    """Bars most time first, widths in proportion (40 s : 20 s : 5 s); a long gap counts nothing."""
    start = today_at(3600.0)
    frames = [(start + 5 * i, "Editor") for i in range(8)]  # 40 s (the last one's 5 s to Browser)
    frames += [(start + 40 + 5 * i, "Browser") for i in range(4)]  # 20 s
    frames += [(start + 60, "Terminal"), (start + 65, "Terminal")]  # 5 s: then a 10 min gap
    frames += [(start + 665, "Mail")]  # the last frame: 0 s
    async with await backend_client(real_main) as client:
        await upload(client, frames)
    await open_dashboard(page, frontend)
    bars = page.get_by_test_id("app-bar")
    await expect(bars).to_have_count(4, timeout=UI_TIMEOUT)
    apps = await bars.evaluate_all(
        "rows => rows.map(r => [r.dataset.app, Number(r.dataset.seconds)])"
    )
    assert apps == [["Editor", 40.0], ["Browser", 20.0], ["Terminal", 5.0], ["Mail", 0.0]]
    widths = await page.get_by_test_id("app-bar-fill").evaluate_all(
        "fills => fills.map(f => f.getBoundingClientRect().width)"
    )
    assert widths[0] > 100
    assert widths[1] / widths[0] == pytest.approx(0.5, abs=0.02)
    assert widths[2] / widths[0] == pytest.approx(0.125, abs=0.02)
    assert widths[3] == 0


@pytest.fixture
def desktop() -> Iterator[XServer]:
    """A 640x480 Xvfb managed by openbox."""
    with running_xvfb(SIZE) as server:
        start_openbox(server)
        yield server


async def switch_to(capture: CaptureProcess, desktop: XServer, win: Win) -> CaptureFrame:
    """Activate ``win`` and return the frame stored for it (the triggered grab)."""
    seen = len(capture.frames.events)
    activate(desktop, win)
    return await capture.frames.wait_for(lambda f: f.app == win.wm_class, after=seen)


async def switch_unrecorded(capture: CaptureProcess, desktop: XServer, win: Win) -> None:
    """Activate ``win``: the triggered grab is excluded, no frame stored."""
    before = await capture.get_status()
    seen = len(capture.frames.events)
    activate(desktop, win)
    after = await capture.status.wait_for(lambda s: s.counters.grabbed > before.counters.grabbed)
    assert after.counters.excluded == before.counters.excluded + 1
    assert after.counters.kept == before.counters.kept
    assert capture.frames.events[seen:] == []


@pytest.mark.display
async def test_never_record_this_app_applies_at_once_and_the_offer_deletes(
    page: Page,
    frontend: FrontendProcess,
    real_main: MainProcess,
    runtime_dir: Path,
    desktop: XServer,
) -> None:
    """ "Never record this app": the app's next window switch stores nothing; "Delete them" removes
    its stored captures (tiles and rows); the other app's stay."""
    diary = open_window(desktop, "Diary", "dear diary", FULL)
    notes = open_window(desktop, "Notes", "shopping list", FULL)
    activate(desktop, diary)
    async with running_capture(runtime_dir, TRIGGERED, desktop.display) as capture:
        await capture.frames.wait_for(lambda f: f.app == "Diary")  # the grab at start
        await switch_to(capture, desktop, notes)
        await switch_to(capture, desktop, diary)
        await open_dashboard(page, frontend)
        diary_tiles = page.locator("[data-testid=capture-tile][data-app=Diary]")
        await expect(diary_tiles).to_have_count(2, timeout=UI_TIMEOUT)
        async with page.expect_response(lambda r: r.url.endswith("/actions/capture/exclude")) as ok:
            await diary_tiles.first.get_by_test_id("capture-never").click()
        assert (await ok.value).ok
        offer = page.get_by_test_id("exclude-offer")
        await expect(offer).to_be_visible()
        await expect(offer).to_contain_text("Diary will not be recorded")

        await switch_to(capture, desktop, notes)
        await switch_unrecorded(capture, desktop, diary)

        async with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
            await page.get_by_test_id("exclude-delete").click()
        assert await (await deleted.value).json() == {"deleted": 2}
        await expect(diary_tiles).to_have_count(0)
        notes_tiles = page.locator("[data-testid=capture-tile][data-app=Notes]")
        await expect(notes_tiles).to_have_count(2, timeout=UI_TIMEOUT)
    async with await backend_client(real_main) as client:
        left = (await client.get("/api/captures", params={"limit": 100})).json()["items"]
    assert sorted(item["app"] for item in left) == ["Notes", "Notes"]


def test_the_rule_matches_exactly_the_app() -> None:
    """ "Never record this app" escapes glob characters: ``a*`` matches only ``a*`` itself."""
    assert app_rule("Diary") == ExcludeRule(app="Diary")
    assert app_rule("a*[b]?") == ExcludeRule(app="a[*][[]b][?]")
    assert fnmatch.fnmatchcase("a*[b]?", app_rule("a*[b]?").app or "")
    assert not fnmatch.fnmatchcase("abc[b]x", app_rule("a*[b]?").app or "")
