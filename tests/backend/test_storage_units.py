"""Pure pieces of the backend: ids, cursors, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.database import Database
from backend.errors import BadRequest
from backend.ids import is_capture_id, new_capture_id
from backend.migrations import SCHEMA_VERSION, SchemaTooNewError, migrate, schema_version
from backend.pagination import decode_cursor, encode_cursor


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


def test_newer_schema_refused(tmp_path: Path) -> None:
    """A database from a newer ctxbus is refused with a message that says what to do."""
    conn = sqlite3.connect(tmp_path / "ctxbus.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="upgrade ctxbus"):
        Database.open(tmp_path)
