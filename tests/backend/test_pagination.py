"""GET /api/captures: newest first, keyset cursors, time ranges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.backend.conftest import Running, Serve, encode_image, upload


@pytest.fixture
async def running(serve: Serve) -> AsyncIterator[Running]:
    """The backend, without age-based retention: these captures are dated 1970, and the
    first retention pass (once the start-up sweep ends) would race the test for them."""
    async with serve(retention_days=1_000_000.0) as running:
        yield running


async def _pages(running: Running, **params: Any) -> list[list[float]]:
    pages: list[list[float]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = (await running.client.get("/api/captures", params=query)).json()
        pages.append([item["captured_at"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_pages_newest_first(running: Running) -> None:
    """Pages of 2 walk five captures newest first, then stop with no cursor."""
    body = encode_image()
    for i in (3, 0, 4, 1, 2):  # stored out of order
        await upload(running.client, f"k{i}", body=body, captured_at=1000.0 + i)
    assert await _pages(running, limit=2) == [[1004.0, 1003.0], [1002.0, 1001.0], [1000.0]]


async def test_equal_timestamps_are_not_skipped(running: Running) -> None:
    """Captures sharing a timestamp are each returned once across pages."""
    body = encode_image()
    ids = set()
    for i in range(4):
        ids.add((await upload(running.client, f"k{i}", body=body, captured_at=500.0)).json()["id"])
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = (await running.client.get("/api/captures", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == sorted(ids, reverse=True)


async def test_since_until_range(running: Running) -> None:
    """since is inclusive, until exclusive, and they combine with cursors."""
    body = encode_image()
    for i in range(6):
        await upload(running.client, f"k{i}", body=body, captured_at=100.0 + i)
    assert await _pages(running, since=101, until=105, limit=3) == [[104.0, 103.0, 102.0], [101.0]]
    assert await _pages(running, since=105) == [[105.0]]
    assert await _pages(running, until=100) == [[]]
