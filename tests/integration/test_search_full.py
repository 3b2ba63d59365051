"""Find what was on screen, as a user does: words on the Xvfb screen, `ctxbus up`, the dashboard."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from playwright.async_api import Page, expect

from bus import Endpoints, endpoints
from bus.messages import IndexerStatus
from tests.fixtures.display import XServer
from tests.fixtures.recorder import TopicRecorder
from tests.integration.test_launcher import READY_DEADLINE, STOP_DEADLINE, Up, alive, free_port
from tests.services.cli.conftest import cli_argv, cli_env

pytestmark = [pytest.mark.browser, pytest.mark.display]

WORDS = ("quokka", "marmalade", "zeppelin")  # what the user saw and now looks for
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # fonts-wqy-microhei (make test)
INDEXED_DEADLINE = 90.0  # capture after ready, then OCR of a 1920x1080 frame at nice 19
UI_TIMEOUT = 20_000  # ms


def screen_with_words(size: tuple[int, int]) -> Image.Image:
    """A light desktop with the words in large dark letters, as a document window would show."""
    image = Image.new("RGB", size, (236, 236, 232))
    draw = ImageDraw.Draw(image)
    draw.rectangle((120, 100, size[0] - 120, size[1] - 100), fill="white", outline=(90, 90, 90))
    font = ImageFont.truetype(FONT, 56)
    draw.text((200, 220), "  ".join(WORDS), "black", font)
    draw.text((200, 360), "minutes of the weekly meeting", (40, 40, 40), font)
    return image


async def test_words_on_screen_are_found_from_the_dashboard(
    runtime_dir: Path, xvfb: XServer, page: Page
) -> None:
    """Words shown on screen are captured, read by the indexer, and found by the dashboard's
    search: a tile with the match marked; a click opens the picture with the word's box."""
    await asyncio.to_thread(xvfb.show, screen_with_words(xvfb.size), "document")
    indexer = TopicRecorder(Endpoints(runtime_dir), endpoints.INDEXER_STATUS, IndexerStatus)
    env = {
        "CTXBUS_FRONTEND_PORT": str(free_port()),
        "CTXBUS_CAPTURE_INTERVAL": "2",
        "DISPLAY": xvfb.display,
    }
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("up", "--json"), env=cli_env(runtime_dir, env), stdout=asyncio.subprocess.PIPE
    )
    up = Up(proc)
    try:
        ready = await up.next_line(READY_DEADLINE)
        assert ready["ctxbus"] == "ready", ready
        await indexer.wait_for(lambda status: status.done >= 1, timeout=INDEXED_DEADLINE)
        await page.goto(ready["url"])
        await expect(page.get_by_test_id("backend-state")).to_have_text(
            "running", timeout=UI_TIMEOUT
        )
        await page.get_by_test_id("search-input").fill("marmalade")
        await page.get_by_test_id("search-go").click()
        hit = page.get_by_test_id("search-hit").first
        await expect(hit).to_be_visible(timeout=UI_TIMEOUT)
        await expect(hit.locator("mark").first).to_have_text("marmalade", ignore_case=True)
        await expect(hit.get_by_test_id("search-box").first).to_be_attached()
        await hit.locator("button").click()
        viewer = page.get_by_test_id("search-viewer")
        await expect(viewer).to_be_visible()
        await expect(viewer.get_by_test_id("search-viewer-box").first).to_be_attached()
        family = up.tree()
        proc.send_signal(signal.SIGINT)
        assert await up.wait(STOP_DEADLINE) == 0
        assert alive(family) == []
    finally:
        indexer.close()
        if proc.returncode is None:
            for child in up.tree()[1:]:
                child.kill()
            proc.kill()
            await proc.wait()
