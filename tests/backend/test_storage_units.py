"""Pure pieces of the backend: ids, cursors, migrations."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from backend.catalog import Totals, delete_capture, record_thumbnail, totals
from backend.database import Database, DatabaseOpenError
from backend.errors import BadRequest, InvalidImage
from backend.ids import is_capture_id, new_capture_id, shard_end_ms, shard_of
from backend.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SchemaTooNewError,
    migrate,
    schema_version,
)
from backend.pagination import MAX_CURSOR_CHARS, decode_cursor, encode_cursor
from backend.webp import check_webp, webp_size

V1_COLUMNS = (  # the columns of schema 1, before any migration added one
    "id, idempotency_key, captured_at, monitor, width, height, content_type, bytes, sha256, "
    "created_at"
)


def test_shard_end_follows_the_id_clock() -> None:
    """A shard ends after the last millisecond whose ids it holds, and no later."""
    for ms in (0, 2**25 - 1, 2**25, 1_795_881_531_187, 2**48 - 1):
        end = shard_end_ms(shard_of(new_capture_id(ms)))
        assert end is not None
        assert ms < end <= ms + 2**25
    assert shard_end_ms("not-a-shard") is None


def test_ids_are_valid_and_sort_by_time() -> None:
    """New ids are well formed and sort in the order of their timestamps."""
    ids = [new_capture_id(ms) for ms in (1, 2**20, 2**40, 2**48 - 1)]
    assert all(is_capture_id(i) for i in ids)
    assert ids == sorted(ids)


@given(st.floats(min_value=0, max_value=1e11), st.integers(min_value=0, max_value=2**48 - 1))
def test_cursor_round_trip(captured_at: float, ms: int) -> None:
    """A cursor decodes to exactly the (captured_at, id) it was made from."""
    capture_id = new_capture_id(ms)
    assert decode_cursor(encode_cursor(captured_at, capture_id)) == (captured_at, capture_id)


@pytest.mark.parametrize(
    ("mode", "options"),
    [("RGB", {"quality": 80}), ("RGBA", {"quality": 80}), ("RGB", {"lossless": True})],
    ids=["vp8", "vp8x", "vp8l"],
)
def test_webp_size_read_from_header(mode: str, options: dict[str, Any]) -> None:
    """The WebP canvas size is read from each header kind without decoding."""
    out = io.BytesIO()
    Image.new(mode, (1921, 1079)).save(out, "WEBP", **options)
    assert webp_size(out.getvalue()) == (1921, 1079)


def test_webp_framing_checked() -> None:
    """A WebP with bytes added, cut, or animated is refused; an intact one passes."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, "WEBP")
    good = out.getvalue()
    assert check_webp(good) == (40, 30)
    for bad in (good + b"\0\0", good[:-2], good[:15]):
        with pytest.raises(InvalidImage, match="WebP"):
            check_webp(bad)
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidImage, match="animated"):
        check_webp(out.getvalue())


@given(st.text(max_size=130))
def test_any_cursor_decodes_or_is_a_bad_request(cursor: str) -> None:
    """Any string as a cursor either decodes or raises BadRequest, never another error."""
    with contextlib.suppress(BadRequest):
        decode_cursor(cursor)


@given(st.text(max_size=90))
def test_any_cursor_payload_decodes_or_is_a_bad_request(payload: str) -> None:
    """Any text inside the base64 (huge floats too) decodes or raises BadRequest."""
    cursor = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    with contextlib.suppress(BadRequest):
        decode_cursor(cursor[:MAX_CURSOR_CHARS])


def test_huge_float_cursor_refused() -> None:
    """A cursor whose float overflows is a BadRequest, not an OverflowError."""
    raw = f"1|0x1.0p+99999|{new_capture_id()}".encode()
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor(base64.urlsafe_b64encode(raw).decode())


def test_foreign_cursor_refused() -> None:
    """Decoding garbage raises BadRequest, not a bare ValueError."""
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor("not-a-cursor")


def test_migrations_apply_once(tmp_path: Path) -> None:
    """Opening a database twice migrates it once and keeps the data."""
    first = Database.open(tmp_path)
    first.close()
    second = Database.open(tmp_path)
    second.close()
    conn = sqlite3.connect(tmp_path / "ctxbus.sqlite3")
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert migrate(conn) == SCHEMA_VERSION
    finally:
        conn.close()


def test_v1_database_upgraded_in_place(tmp_path: Path) -> None:
    """A schema-1 database keeps its rows and totals, and counts thumbnails from then on."""
    conn = sqlite3.connect(tmp_path / "ctxbus.sqlite3", isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    row = (new_capture_id(), "key", 1.0, 0, 1, 1, "image/png", 100, "x", 0.0)
    conn.execute(f"INSERT INTO captures ({V1_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.close()
    db = Database.open(tmp_path)
    try:
        assert asyncio.run(db.read(totals)) == Totals(captures=1, bytes=100)
        asyncio.run(db.write(partial(record_thumbnail, capture_id=row[0], size=7)))
        assert asyncio.run(db.read(totals)) == Totals(captures=1, bytes=107)
        assert asyncio.run(db.write(partial(delete_capture, capture_id=row[0]))) is not None
        assert asyncio.run(db.read(totals)) == Totals(captures=0, bytes=0)
    finally:
        db.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    """A database from a newer ctxbus is refused with a message that says what to do."""
    conn = sqlite3.connect(tmp_path / "ctxbus.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="upgrade ctxbus"):
        Database.open(tmp_path)


def test_unusable_data_dir_says_what_to_do(tmp_path: Path) -> None:
    """A data dir that is a file fails with a message naming the setting to fix."""
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    with pytest.raises(DatabaseOpenError, match="CTXBUS_BACKEND_DATA_DIR"):
        Database.open(blocker)
