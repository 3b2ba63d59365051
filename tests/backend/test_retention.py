"""Retention by age and size, and the orphan sweep at startup."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from backend.ids import new_capture_id
from backend.storage import TEMP_PREFIX
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


def _plant(directory: Path, name: str, age_s: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"leftover")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


async def test_orphan_files_removed_at_startup(serve: Serve) -> None:
    """Startup removes old files without a row and old temp files; young and real ones stay."""
    async with serve() as running:
        kept = (await upload(running.client, "kept")).json()
        await running.client.get(kept["thumbnail_url"])
        store = running.backend.store
        kept_image = store.image_path(kept["id"], kept["content_type"])
        kept_thumb = store.thumbnail_path(kept["id"])
    stray = new_capture_id()
    shard = kept_image.parent
    old_orphan = _plant(shard, f"{stray}.webp", age_s=3600)
    old_thumb = _plant(kept_thumb.parent, f"{stray}.webp", age_s=3600)
    old_temp = _plant(shard, f"{TEMP_PREFIX}{stray}.webp.123.ab", age_s=3600)
    young = _plant(shard, f"{new_capture_id()}.png", age_s=1)
    old_shard = store.images / "00001"  # ids of 1970: no new file can land there
    _plant(old_shard, f"{new_capture_id(2**25)}.webp", age_s=3600)
    async with serve() as running:
        async with asyncio.timeout(5):
            await running.backend.maintenance.swept.wait()
        assert not old_orphan.exists()
        assert not old_thumb.exists()
        assert not old_temp.exists()
        assert young.exists()  # may be another backend's file, not yet committed
        assert not old_shard.exists()
        assert shard.exists()
        assert kept_image.exists()
        assert kept_thumb.exists()
        assert (await running.client.get(kept["image_url"])).status_code == 200
