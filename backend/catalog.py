"""The capture catalog: SQL for the ``captures`` table and its ``deletions`` journal. Every
function takes a connection that is already inside a transaction (see
:class:`backend.database.Database`) and is blocking.

Deleting a capture row journals its id (a trigger, schema v3) until :func:`forget_deletions` is
called once its files are gone.
"""

from __future__ import annotations

import sqlite3

import msgspec

COLUMNS = (
    "id, idempotency_key, captured_at, monitor, width, height, content_type, bytes, sha256, "
    "created_at, app, title, pid, process"
)
INSERT = f"INSERT INTO captures ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
RESTORED_KEY_PREFIX = "restored:"


class Capture(msgspec.Struct, frozen=True):
    """One stored capture; its image file is named after ``id``."""

    id: str
    idempotency_key: str
    captured_at: float
    monitor: int
    width: int
    height: int
    content_type: str
    bytes: int
    sha256: str
    created_at: float
    app: str | None = None  # the active window's, when it was grabbed (schema v4)
    title: str | None = None
    pid: int | None = None
    process: str | None = None


class Totals(msgspec.Struct, frozen=True):
    """What the catalog holds (bytes: images and thumbnails), kept up to date by triggers."""

    captures: int
    bytes: int


class Inserted(msgspec.Struct, frozen=True):
    """The outcome of an insert: the stored row, whether it is new, and the totals after."""

    capture: Capture
    created: bool
    totals: Totals


class PageQuery(msgspec.Struct, frozen=True):
    """A keyset page, newest first: ``since <= captured_at < until``, after ``(at, id)``, of
    one ``app`` if set."""

    limit: int
    since: float | None = None
    until: float | None = None
    after: tuple[float, str] | None = None
    app: str | None = None


def insert_capture(conn: sqlite3.Connection, capture: Capture) -> Inserted:
    """Insert ``capture``, or return the row that already holds its idempotency key."""
    try:
        conn.execute(INSERT, msgspec.structs.astuple(capture))
    except sqlite3.IntegrityError:
        existing = find_by_key(conn, capture.idempotency_key)
        if existing is None:
            raise
        return Inserted(existing, created=False, totals=totals(conn))
    return Inserted(capture, created=True, totals=totals(conn))


def find_by_key(conn: sqlite3.Connection, key: str) -> Capture | None:
    """The capture stored under an idempotency key, if any."""
    row = conn.execute(f"SELECT {COLUMNS} FROM captures WHERE idempotency_key = ?", (key,))
    return _one(row)


def get_capture(conn: sqlite3.Connection, capture_id: str) -> Capture | None:
    """The capture with this id, if any."""
    return _one(conn.execute(f"SELECT {COLUMNS} FROM captures WHERE id = ?", (capture_id,)))


def list_captures(conn: sqlite3.Connection, page: PageQuery) -> list[Capture]:
    """Up to ``page.limit`` captures, newest first (by capture time, then id)."""
    where: list[str] = []
    params: list[float | str | int] = []
    if page.since is not None:
        where.append("captured_at >= ?")
        params.append(page.since)
    if page.until is not None:
        where.append("captured_at < ?")
        params.append(page.until)
    if page.after is not None:
        where.append("(captured_at, id) < (?, ?)")
        params.extend(page.after)
    if page.app is not None:
        where.append("app = ?")
        params.append(page.app)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT {COLUMNS} FROM captures {clause} ORDER BY captured_at DESC, id DESC LIMIT ?"
    return _all(conn.execute(sql, (*params, page.limit)))


def delete_capture(conn: sqlite3.Connection, capture_id: str) -> Capture | None:
    """Delete one capture's row; returns it, or None if there was none."""
    return _one(
        conn.execute(f"DELETE FROM captures WHERE id = ? RETURNING {COLUMNS}", (capture_id,))
    )


def delete_one(conn: sqlite3.Connection, capture_id: str) -> list[Capture]:
    """Delete one capture's row; returns it in a list (empty if there was none)."""
    deleted = delete_capture(conn, capture_id)
    return [] if deleted is None else [deleted]


def delete_app(conn: sqlite3.Connection, app: str, limit: int) -> list[Capture]:
    """Delete up to ``limit`` of the captures of the application ``app``."""
    sql = (
        f"DELETE FROM captures WHERE id IN (SELECT id FROM captures WHERE app = ? LIMIT ?) "
        f"RETURNING {COLUMNS}"
    )
    return _all(conn.execute(sql, (app, limit)))


def delete_older_than(conn: sqlite3.Connection, cutoff: float, limit: int) -> list[Capture]:
    """Delete up to ``limit`` of the oldest captures taken before ``cutoff``."""
    sql = (
        f"DELETE FROM captures WHERE id IN (SELECT id FROM captures WHERE captured_at < ? "
        f"ORDER BY captured_at, id LIMIT ?) RETURNING {COLUMNS}"
    )
    return _all(conn.execute(sql, (cutoff, limit)))


def delete_over_budget(conn: sqlite3.Connection, max_bytes: int, limit: int) -> list[Capture]:
    """Delete the oldest captures (up to ``limit``) until they fit in ``max_bytes``."""
    excess = totals(conn).bytes - max_bytes
    if excess <= 0:
        return []
    chosen: list[str] = []
    sql = "SELECT id, bytes + thumbnail_bytes FROM captures ORDER BY captured_at, id LIMIT ?"
    oldest = conn.execute(sql, (limit,)).fetchall()
    for capture_id, size in oldest:
        if excess <= 0:
            break
        chosen.append(capture_id)
        excess -= size
    marks = ", ".join("?" * len(chosen))
    return _all(
        conn.execute(f"DELETE FROM captures WHERE id IN ({marks}) RETURNING {COLUMNS}", chosen)
    )


def restore_capture(conn: sqlite3.Connection, capture: Capture) -> bool:
    """Insert a row rebuilt from an image file unless its id is known or journaled as deleted;
    a key already taken is replaced by ``restored:<id>``. Returns whether it was inserted."""
    if get_capture(conn, capture.id) is not None or _journaled(conn, capture.id):
        return False
    if find_by_key(conn, capture.idempotency_key) is not None:
        capture = msgspec.structs.replace(capture, idempotency_key=RESTORED_KEY_PREFIX + capture.id)
    conn.execute(INSERT, msgspec.structs.astuple(capture))
    return True


def journaled_deletions(conn: sqlite3.Connection, limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` deleted captures whose files may remain: ``(id, content_type)``."""
    sql = "SELECT id, content_type FROM deletions ORDER BY id LIMIT ?"
    return [(capture_id, kind) for capture_id, kind in conn.execute(sql, (limit,))]


def forget_deletions(conn: sqlite3.Connection, capture_ids: list[str]) -> None:
    """Drop journaled deletions whose files are gone."""
    conn.executemany("DELETE FROM deletions WHERE id = ?", [(i,) for i in capture_ids])


def _journaled(conn: sqlite3.Connection, capture_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM deletions WHERE id = ?", (capture_id,)).fetchone()
    return row is not None


def record_thumbnail(conn: sqlite3.Connection, capture_id: str, size: int) -> None:
    """Count a capture's new thumbnail in the storage totals."""
    conn.execute("UPDATE captures SET thumbnail_bytes = ? WHERE id = ?", (size, capture_id))


def ids_with_prefix(conn: sqlite3.Connection, prefix: str) -> set[str]:
    """The ids that start with ``prefix`` (one storage shard)."""
    rows = conn.execute("SELECT id FROM captures WHERE id >= ? AND id < ?", (prefix, prefix + "~"))
    return {capture_id for (capture_id,) in rows}


def totals(conn: sqlite3.Connection) -> Totals:
    """How many captures and image bytes the catalog holds."""
    captures, size = conn.execute("SELECT captures, bytes FROM storage_totals").fetchone()
    return Totals(captures=captures, bytes=size)


def _one(cursor: sqlite3.Cursor) -> Capture | None:
    row = cursor.fetchone()
    return None if row is None else Capture(*row)


def _all(cursor: sqlite3.Cursor) -> list[Capture]:
    return [Capture(*row) for row in cursor.fetchall()]
