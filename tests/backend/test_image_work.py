"""Image work is bounded (issue 12 §6): one decode per core at a time, off the event loop, so
/health answers while a crowd of large thumbnails is being made."""

from __future__ import annotations

import asyncio

import httpx

from backend.image_work import default_limit
from tests.backend.conftest import Running, encode_image, upload

SIZE = (2000, 2000)  # 4 M pixels: a big PNG that compresses to a few KB
IMAGES = 3
REQUESTS = 30  # the probe's crowd of thumbnails
SLOW_S = 120.0  # a thumbnail waits behind the others on 2 busy cores


async def _upload_large(running: Running) -> list[str]:
    ids = []
    for n in range(IMAGES):
        body = encode_image("PNG", SIZE, color=(n * 60, 10, 10))
        response = await upload(running.client, f"big-{n}", body=body, fmt="PNG", size=SIZE)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _health_while(running: Running, work: asyncio.Future[list[httpx.Response]]) -> int:
    """GET /health until ``work`` ends; how many answered 200 while decodes were queued."""
    answered_while_queued = 0
    while not work.done():
        queued = running.backend.images.waiting > 0
        response = await running.client.get("/health")
        assert response.status_code == 200
        answered_while_queued += queued and running.backend.images.waiting > 0
    return answered_while_queued


async def test_thumbnails_run_one_per_core_and_health_still_answers(running: Running) -> None:
    """30 thumbnails of 4 M-pixel PNGs at once: at most one decode per core, /health answers."""
    ids = await _upload_large(running)
    gets = [
        running.client.get(f"/api/captures/{ids[n % IMAGES]}/thumbnail", timeout=SLOW_S)
        for n in range(REQUESTS)
    ]
    work = asyncio.ensure_future(asyncio.gather(*gets))
    answered = await _health_while(running, work)
    responses = await work
    assert [r.status_code for r in responses] == [200] * REQUESTS
    assert running.backend.images.peak == default_limit()
    assert running.backend.images.running == running.backend.images.waiting == 0
    assert answered > 0, "/health never answered while thumbnails were queued"
