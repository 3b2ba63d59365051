"""A full data-dir disk: writes answer 507 disk_full with the free bytes, thumbnails are served
uncached, deletes still work (the disk reserve), and stored captures stay intact."""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from structlog.testing import capture_logs

from backend.reserve import RESERVE_FILE
from tests.backend.conftest import Running, Serve, upload

DISK = "20m"
RESERVE = 1024 * 1024
SIZE = (300, 300)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MB tmpfs to keep the data dir on."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def noise_png(seed: int) -> bytes:
    """A 300x300 PNG of noise (~270 KB: it does not compress)."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (300, 300), rng.randbytes(300 * 300 * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def fill(directory: Path) -> Path:
    """Write zeros to a file until the disk is full."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


async def _upload_until_full(running: Running) -> tuple[list[tuple[dict[str, Any], bytes]], Any]:
    stored: list[tuple[dict[str, Any], bytes]] = []
    for i in range(200):
        body = noise_png(i)
        response = await upload(running.client, f"k{i}", body=body, fmt="PNG", size=SIZE)
        if response.status_code != 201:
            return stored, response
        stored.append((response.json(), body))
    raise AssertionError("the 20 MB disk never filled")


def _assert_disk_full(response: Any) -> None:
    assert response.status_code == 507, response.text
    error = response.json()["error"]
    assert error["code"] == "disk_full"
    assert isinstance(error["free_bytes"], int)
    assert "DELETE" in error["message"]


async def test_full_disk_is_reported_and_survivable(serve: Serve, small_disk: Path) -> None:
    """Uploads get 507 disk_full; thumbnails still serve; DELETE frees space; nothing is lost."""
    config = {"data_dir": small_disk / "data", "disk_reserve_bytes": RESERVE}
    with capture_logs() as logs:
        async with serve(**config) as running:
            reserve = running.config.data_dir / RESERVE_FILE
            assert reserve.stat().st_size == RESERVE
            stored, refused = await _upload_until_full(running)
            _assert_disk_full(refused)
            filler = fill(small_disk)  # not even the database has room now
            late = noise_png(999)
            _assert_disk_full(await upload(running.client, "late", body=late, fmt="PNG", size=SIZE))
            await _thumbnail_served_uncached(running, stored[0][0])
            await _delete(running, [record for record, _ in stored[:3]])
            for record, body in stored[3:]:
                assert (await running.client.get(record["image_url"])).content == body
            filler.unlink()
            await _delete(running, [record for record, _ in stored[3:11]])
            assert reserve.stat().st_size == RESERVE  # held again once space came back
    events = [e["event"] for e in logs]
    assert "thumbnail_not_cached" in events


async def _thumbnail_served_uncached(running: Running, record: dict[str, Any]) -> None:
    thumb = await running.client.get(record["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    assert not running.backend.store.thumbnail_path(record["id"]).exists()


async def _delete(running: Running, records: list[dict[str, Any]]) -> None:
    for record in records:
        response = await running.client.delete(f"/api/captures/{record['id']}")
        assert response.status_code == 204, response.text
        assert (await running.client.get(record["image_url"])).status_code == 404
