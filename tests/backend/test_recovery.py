"""The start-up sweep never deletes an image the catalog lacks: it rebuilds its row, or moves what
cannot be rebuilt to lost+found; it removes only temp files, thumbnails and journaled deletions."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from backend.catalog import delete_capture
from backend.database import DB_FILE
from backend.ids import id_time, new_capture_id
from backend.storage import TAG_ATTRIBUTE, TEMP_PREFIX
from tests.backend.conftest import Running, Serve, encode_image, upload

HOUR = 3600.0


async def _swept(running: Running) -> None:
    async with asyncio.timeout(5):
        await running.backend.maintenance.swept.wait()


async def _listed(running: Running) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await running.client.get("/api/captures")).json()["items"]
    return items


def _age(paths: list[Path], seconds: float) -> None:
    stamp = time.time() - seconds
    for path in paths:
        os.utime(path, (stamp, stamp))


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*") if p.is_file())


async def _store_three(running: Running) -> list[dict[str, Any]]:
    records = []
    for i, fmt in enumerate(("WEBP", "PNG", "JPEG")):
        response = await upload(
            running.client, f"key-{fmt}", fmt=fmt, captured_at=time.time() - 10 + i, monitor=i + 1
        )
        assert response.status_code == 201, response.text
        records.append(response.json())
    await running.client.get(records[0]["thumbnail_url"])
    return records


def _without_created(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "created_at"}


def _lose_catalog(data_dir: Path, how: str) -> None:
    db = data_dir / DB_FILE
    for leftover in (data_dir / f"{DB_FILE}-wal", data_dir / f"{DB_FILE}-shm"):
        leftover.unlink(missing_ok=True)
    if how == "deleted":
        db.unlink()
    else:
        db.write_bytes(b"")


@pytest.mark.parametrize("how", ["deleted", "truncated"])
async def test_lost_catalog_is_rebuilt_from_the_images(serve: Serve, how: str) -> None:
    """With the database deleted or emptied, every image stays and is listed as it was."""
    async with serve() as running:
        records = await _store_three(running)
        images = _files(running.backend.store.images)
    _lose_catalog(running.config.data_dir, how)
    _age(images, HOUR)
    with capture_logs() as logs:
        async with serve() as again:
            await _swept(again)
            listed = await _listed(again)
            bodies = [(await again.client.get(r["image_url"])).content for r in records]
            originals = [p.read_bytes() for p in sorted(images, key=lambda p: p.name)]
    assert _files(again.backend.store.images) == images
    assert sorted(bodies) == sorted(originals)
    by_id = {r["id"]: r for r in records}
    for item in listed:  # created_at comes back from the id, to the millisecond
        assert item["created_at"] == pytest.approx(by_id[item["id"]]["created_at"], abs=2e-3)
    assert [_without_created(r) for r in listed] == [
        _without_created(by_id[r["id"]]) for r in listed
    ]
    assert sorted(by_id) == sorted(r["id"] for r in listed)
    restored = [e for e in logs if e["event"] == "orphans_restored"]
    assert [(e["count"], e["log_level"]) for e in restored] == [(3, "warning")]


async def test_untagged_image_gets_its_time_from_the_id(serve: Serve) -> None:
    """An image without its upload tag is rebuilt with the id's time, monitor 0, a restored key."""
    async with serve() as running:
        record = (await upload(running.client, "k", captured_at=time.time() - 5, monitor=3)).json()
        image = running.backend.store.image_path(record["id"], record["content_type"])
    _lose_catalog(running.config.data_dir, "deleted")
    os.removexattr(image, TAG_ATTRIBUTE)
    _age([image], HOUR)
    async with serve() as again:
        await _swept(again)
        [item] = await _listed(again)
    assert item["id"] == record["id"]
    assert item["captured_at"] == id_time(record["id"])
    assert item["monitor"] == 0
    assert item["idempotency_key"] == f"restored:{record['id']}"
    assert (item["sha256"], item["bytes"], item["width"]) == (
        record["sha256"],
        record["bytes"],
        record["width"],
    )


async def test_files_that_are_no_capture_go_to_lost_and_found(serve: Serve) -> None:
    """Junk in a shard (not an image, or not named by an id) is moved aside with one warning."""
    async with serve() as running:
        kept = (await upload(running.client, "kept")).json()
        shard = running.backend.store.image_path(kept["id"], kept["content_type"]).parent
    junk = [shard / f"{new_capture_id()}.webp", shard / "notes.txt", shard / f"{kept['id']}x.png"]
    for path in junk:
        path.write_bytes(b"not an image")
    cut = shard / f"{new_capture_id()}.png"
    cut.write_bytes(encode_image("PNG")[:-30])
    _age([*junk, cut], HOUR)
    with capture_logs() as logs:
        async with serve() as again:
            await _swept(again)
            assert [r["id"] for r in await _listed(again)] == [kept["id"]]
    lost = running.config.data_dir / "lost+found"
    assert sorted(p.name for p in lost.glob("images/*/*")) == sorted(p.name for p in [*junk, cut])
    assert not any(p.exists() for p in [*junk, cut])
    moved = [e for e in logs if e["event"] == "orphans_moved"]
    assert [(e["count"], e["folder"], e["log_level"]) for e in moved] == [(4, str(lost), "warning")]


async def test_only_old_temp_files_and_stray_thumbnails_are_removed(serve: Serve) -> None:
    """Old temp files and thumbnails without a row go; young files and real captures stay."""
    async with serve() as running:
        kept = (await upload(running.client, "kept")).json()
        await running.client.get(kept["thumbnail_url"])
        store = running.backend.store
        kept_image = store.image_path(kept["id"], kept["content_type"])
        kept_thumb = store.thumbnail_path(kept["id"])
    stray = new_capture_id()
    old_temp = kept_image.parent / f"{TEMP_PREFIX}{stray}.webp.123.ab"
    old_thumb = kept_thumb.parent / f"{stray}.webp"
    young = kept_image.parent / f"{new_capture_id()}.png"
    for path in (old_temp, old_thumb, young):
        path.write_bytes(b"leftover")
    _age([old_temp, old_thumb], HOUR)
    async with serve() as again:
        await _swept(again)
        assert not old_temp.exists()
        assert not old_thumb.exists()
        assert young.exists()  # may be another backend's file, not yet committed
        assert kept_image.exists()
        assert kept_thumb.exists()
        assert (await again.client.get(kept["image_url"])).status_code == 200


async def test_journaled_deletion_is_finished_not_restored(serve: Serve) -> None:
    """A capture whose row was deleted but whose files remained (a crash) is removed at start."""
    async with serve() as running:
        record = (await upload(running.client, "gone")).json()
        image = running.backend.store.image_path(record["id"], record["content_type"])
        deleted = await running.backend.db.write(partial(delete_capture, capture_id=record["id"]))
        assert deleted is not None  # the row went; the files stay, as after a crash
    _age([image], HOUR)
    async with serve() as again:
        await _swept(again)
        assert await _listed(again) == []
    assert not image.exists()
    conn = sqlite3.connect(running.config.data_dir / DB_FILE)
    try:
        assert conn.execute("SELECT count(*) FROM deletions").fetchone() == (0,)
    finally:
        conn.close()


async def test_old_empty_shard_removed(serve: Serve) -> None:
    """A shard of 1970 left empty by the sweep is removed; its junk is in lost+found."""
    async with serve() as running:
        old_shard = running.backend.store.images / "00001"
    old_shard.mkdir(parents=True)
    junk = old_shard / f"{new_capture_id(2**25)}.webp"
    junk.write_bytes(b"leftover")
    _age([junk], HOUR)
    async with serve() as again:
        await _swept(again)
    assert not old_shard.exists()
    assert (running.config.data_dir / "lost+found" / "images" / "00001" / junk.name).exists()
