"""Dashboard search (issue 10) in a real browser against a real frontend, main and backend."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Locator, Page, expect

from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

pytestmark = pytest.mark.browser

UI_TIMEOUT = 30_000  # ms
SIZE = (640, 360)
WORD_BOX = {"x": 100, "y": 50, "w": 160, "h": 40}


@pytest.fixture
async def backend(real_main: MainProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real backend, with main's token."""
    info = await real_main.port_info()
    headers = {"Authorization": f"Bearer {info.token}"}
    async with httpx.AsyncClient(base_url=info.base_url, headers=headers) as client:
        yield client


def picture() -> bytes:
    """A PNG with a dark block where the matched word is."""
    image = Image.new("RGB", SIZE, (240, 240, 240))
    box = WORD_BOX
    ImageDraw.Draw(image).rectangle(
        (box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]), fill=(30, 30, 30)
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def capture_with_text(client: httpx.AsyncClient) -> str:
    """Upload a capture and store OCR words on it (as the indexer would); its id."""
    params: dict[str, str | float] = {"captured_at": time.time(), "monitor": 1}
    params |= {"width": SIZE[0], "height": SIZE[1], "app": "Editor", "title": "report.txt"}
    headers = {"Idempotency-Key": "search-ui", "Content-Type": "image/png"}
    stored = await client.post("/api/captures", params=params, headers=headers, content=picture())
    assert stored.status_code == 201, stored.text
    capture_id = str(stored.json()["id"])
    words = [
        {"text": "the", "x": 20, "y": 50, "w": 60, "h": 40, "conf": 95.0},
        {"text": "quarterly", **WORD_BOX, "conf": 93.0},
        {"text": "<b>report</b>", "x": 280, "y": 50, "w": 200, "h": 40, "conf": 90.0},
    ]
    body = {"engine": "test-1", "lang": "eng", "words": words, "failed": None}
    put = await client.put(f"/api/captures/{capture_id}/text", json=body)
    assert put.status_code == 201, put.text
    return capture_id


async def search(page: Page, frontend: FrontendProcess, q: str) -> None:
    await page.goto(await frontend.login_url())
    await expect(page.get_by_test_id("backend-state")).to_have_text("running", timeout=UI_TIMEOUT)
    await page.get_by_test_id("search-input").fill(q)
    await page.get_by_test_id("search-go").click()


async def assert_over_word(box: Locator, image: Locator) -> None:
    """The drawn box covers the word's place on the picture as shown (within 2 px)."""
    drawn, shown = await box.bounding_box(), await image.bounding_box()
    assert drawn is not None
    assert shown is not None
    scale = shown["width"] / SIZE[0]
    assert abs(drawn["x"] - shown["x"] - WORD_BOX["x"] * scale) <= 2
    assert abs(drawn["y"] - shown["y"] - WORD_BOX["y"] * scale) <= 2
    assert abs(drawn["width"] - WORD_BOX["w"] * scale) <= 2


async def test_search_shows_tile_with_highlight_and_opens_it(
    page: Page, frontend: FrontendProcess, backend: httpx.AsyncClient
) -> None:
    """A search shows the capture as a tile with the match marked in the snippet and its box
    over the thumbnail; a click opens the full picture with the box drawn over the word."""
    capture_id = await capture_with_text(backend)
    await search(page, frontend, "quarterly")
    hit = page.get_by_test_id("search-hit")
    await expect(hit).to_have_count(1, timeout=UI_TIMEOUT)
    assert await hit.get_attribute("data-id") == capture_id
    await expect(hit.locator("mark")).to_have_text("quarterly")
    await expect(hit.get_by_test_id("search-snippet")).to_contain_text("<b>report</b>")
    await expect(hit).to_contain_text("Editor")
    box = hit.get_by_test_id("search-box")
    await expect(box).to_have_count(1)
    await assert_over_word(box, hit.locator("img"))
    await hit.locator("button").click()
    viewer = page.get_by_test_id("search-viewer")
    await expect(viewer).to_be_visible()
    image = viewer.locator("img")
    await expect(image).to_have_attribute("src", f"/api/captures/{capture_id}/image")
    loaded = f"img => img.complete && img.naturalWidth === {SIZE[0]}"  # the picture itself shows
    await page.wait_for_function(loaded, arg=await image.element_handle(), timeout=UI_TIMEOUT)
    await expect(viewer.get_by_test_id("search-viewer-box")).to_have_count(1)
    await assert_over_word(viewer.get_by_test_id("search-viewer-box"), image)


async def test_search_without_hits_says_so(
    page: Page, frontend: FrontendProcess, backend: httpx.AsyncClient
) -> None:
    """A search that matches nothing shows no tile and says nothing was found."""
    await capture_with_text(backend)
    await search(page, frontend, "nowhere")
    await expect(page.get_by_test_id("search-note")).to_contain_text("nothing found")
    await expect(page.get_by_test_id("search-hit")).to_have_count(0)
