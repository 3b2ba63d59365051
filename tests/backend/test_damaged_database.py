"""A damaged database does not look healthy: /health says degraded and why; nothing is swept."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from backend.database import DB_FILE, Database, DatabaseOpenError
from tests.backend.conftest import Serve, upload

PAGE = 4096


def _overwrite_page(db: Path, page: int) -> None:
    """Garbage over one page of the file (pages count from 1), as a bad disk block would."""
    for leftover in (db.with_name(f"{DB_FILE}-wal"), db.with_name(f"{DB_FILE}-shm")):
        assert not leftover.exists()  # a clean stop checkpoints and removes them
    with db.open("r+b") as file:
        file.seek(PAGE * (page - 1))
        file.write(os.urandom(PAGE))


async def test_damaged_page_makes_health_degraded(serve: Serve) -> None:
    """With page 2 overwritten, /health reports degraded naming the database, lists get 503."""
    async with serve() as running:
        for i in range(3):
            assert (await upload(running.client, f"k{i}")).status_code == 201
        images = sorted(running.backend.store.images.glob("*/*"))
    _overwrite_page(running.config.data_dir / DB_FILE, 2)
    async with serve(orphan_grace=0.0) as again:
        async with asyncio.timeout(5):
            await again.backend.maintenance.swept.wait()
        health = (await again.client.get("/health")).json()
        listed = await again.client.get("/api/captures")
    assert health["status"] == "degraded"
    assert health["reason"].startswith("database: damaged: ")
    database = health["components"]["database"]
    assert database["ok"] is False
    assert "malformed" in database["error"]
    assert listed.status_code == 503
    assert listed.json()["error"]["code"] == "database_damaged"
    assert sorted(running.backend.store.images.glob("*/*")) == images  # not swept


def test_quick_check_finds_deeper_damage(tmp_path: Path) -> None:
    """Damage a one-row read does not meet is found by the integrity check."""
    Database.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
    conn.execute("CREATE TABLE filler (x BLOB)")
    for _ in range(50):
        conn.execute("INSERT INTO filler VALUES (randomblob(3000))")
    conn.close()
    size = (tmp_path / DB_FILE).stat().st_size
    _overwrite_page(tmp_path / DB_FILE, size // PAGE)
    db = Database.open(tmp_path)
    try:
        assert db.problem is None
        assert db.check_integrity() is not None
        assert db.problem is not None
    finally:
        db.close()


def test_not_a_database_fails_at_start(tmp_path: Path) -> None:
    """A file that is no database at all stops the start with a message naming the data dir."""
    (tmp_path / DB_FILE).write_bytes(os.urandom(8192))
    with pytest.raises(DatabaseOpenError, match="CTXBUS_BACKEND_DATA_DIR"):
        Database.open(tmp_path)
