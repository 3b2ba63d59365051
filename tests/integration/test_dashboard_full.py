"""The dashboard of the whole app, as a user runs it: `ctxbus up`, a changing desktop, chromium."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.display import XServer, desktop_image, stop_process
from tests.integration.test_launcher import READY_DEADLINE, STOP_DEADLINE, Up, alive, free_port
from tests.services.cli.conftest import cli_argv, cli_env

pytestmark = [pytest.mark.browser, pytest.mark.display]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
CAPTURE_INTERVAL = "0.5"
PICTURES = 4  # desktop pictures shown one after the other: one thumbnail each
UI_TIMEOUT = 20_000  # ms: capture starts after the app is ready, then a grab every 0.5 s
COMPONENTS = ("main", "frontend", "capture")
# Every thumbnail loaded, and the counters (published at most once a second) caught up with them.
SETTLED = r"""min => {
    const imgs = [...document.querySelectorAll("[data-testid=capture-tile] img")];
    const text = document.querySelector("[data-testid=capture-counters]")?.textContent ?? "";
    const kept = Number((text.match(/kept (\d+)/) ?? [])[1]);
    const uploaded = Number((text.match(/uploaded (\d+)/) ?? [])[1]);
    return imgs.length >= min && imgs.every((img) => img.complete && img.naturalWidth > 0)
        && kept === imgs.length && uploaded === imgs.length;
}"""


def show_desktop(xvfb: XServer, seed: int) -> None:
    """Show desktop picture ``seed`` full screen, then close the window it covers."""
    covered = list(xvfb.clients)
    xvfb.show(desktop_image(xvfb.size, seed), name=f"desktop-{seed}")
    for client in covered:
        stop_process(client)
        xvfb.clients.remove(client)


async def test_full_app_dashboard_screenshot(runtime_dir: Path, xvfb: XServer, page: Page) -> None:
    """`ctxbus up` on Xvfb: backend, components and thumbnails live; screenshot; clean Ctrl-C."""
    await asyncio.to_thread(show_desktop, xvfb, 0)
    env = {
        "CTXBUS_FRONTEND_PORT": str(free_port()),
        "CTXBUS_CAPTURE_INTERVAL": CAPTURE_INTERVAL,
        "DISPLAY": xvfb.display,
    }
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("up", "--json"), env=cli_env(runtime_dir, env), stdout=asyncio.subprocess.PIPE
    )
    up = Up(proc)
    try:
        ready = await up.next_line(READY_DEADLINE)
        assert ready["ctxbus"] == "ready", ready
        await page.goto(ready["url"])
        await expect(page.get_by_test_id("backend-state")).to_have_text(
            "running", timeout=UI_TIMEOUT
        )
        for name in COMPONENTS:
            state = page.locator(f'tr[data-component="{name}"] td').nth(1)
            await expect(state).to_have_text("running", timeout=UI_TIMEOUT)
        await expect(page.get_by_test_id("capture-state")).to_have_text(
            "running", timeout=UI_TIMEOUT
        )
        tiles = page.get_by_test_id("capture-tile")
        await expect(tiles.first).to_be_attached(timeout=UI_TIMEOUT)
        for seed in range(1, PICTURES):
            await asyncio.to_thread(show_desktop, xvfb, seed)
            await expect(tiles.nth(seed)).to_be_attached(timeout=UI_TIMEOUT)
        await page.wait_for_function(SETTLED, arg=PICTURES, timeout=UI_TIMEOUT)
        ids = await tiles.evaluate_all("items => items.map(item => item.dataset.id)")
        assert len(set(ids)) == len(ids) >= 3
        await expect(page.get_by_test_id("backend-state")).to_have_text("running")
        await expect(page.get_by_test_id("link")).to_have_text("live")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        family = up.tree()
        proc.send_signal(signal.SIGINT)
        assert await up.wait(STOP_DEADLINE) == 0
        assert (await up.rest())[-1] == {"ctxbus": "stopped"}
        assert alive(family) == []
    finally:
        if proc.returncode is None:
            for child in up.tree()[1:]:
                child.kill()
            proc.kill()
            await proc.wait()
