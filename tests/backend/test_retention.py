"""Retention by age and size (the start-up sweep is in test_recovery)."""

from __future__ import annotations

import asyncio
import time

from tests.backend.conftest import Running, Serve, encode_image, upload

DAY = 86_400.0


async def _listed(running: Running) -> list[float]:
    items = (await running.client.get("/api/captures")).json()["items"]
    return [item["captured_at"] for item in items]


async def test_retention_by_age(running: Running) -> None:
    """A pass removes captures older than retention_days, rows and files, and /health shows it."""
    now = time.time()
    old = (await upload(running.client, "old", captured_at=now - 16 * DAY)).json()
    await upload(running.client, "new", captured_at=now - 14 * DAY)
    old_path = running.backend.store.image_path(old["id"], old["content_type"])
    await running.client.get(old["thumbnail_url"])
    assert await running.backend.maintenance.run_pass() == 1
    assert await _listed(running) == [now - 14 * DAY]
    assert not old_path.exists()
    assert not running.backend.store.thumbnail_path(old["id"]).exists()
    retention = (await running.client.get("/health")).json()["components"]["retention"]
    assert retention["last_removed"] == 1
    assert retention["removed_total"] == 1
    assert retention["ok"] is True


async def test_retention_by_size_after_upload(serve: Serve) -> None:
    """An upload that goes over retention_bytes wakes retention, which drops the oldest."""
    body = encode_image()
    async with serve(retention_bytes=2 * len(body)) as running:
        maintenance = running.backend.maintenance
        base = time.time()
        for i in range(3):
            await upload(running.client, f"k{i}", body=body, captured_at=base + i)
        async with asyncio.timeout(5):
            while True:
                seen = maintenance.passes
                if len(await _listed(running)) == 2:
                    break
                await maintenance.wait_for_pass(seen)
        assert await _listed(running) == [base + 2, base + 1]  # the oldest went
        storage = (await running.client.get("/health")).json()["components"]["storage"]
        assert storage["bytes"] == 2 * len(body)
        files = [p for p in running.config.data_dir.glob("images/*/*") if p.is_file()]
        assert len(files) == 2
