"""Versioned schema migrations, tracked in SQLite's ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``. Each step runs in one
``BEGIN IMMEDIATE`` transaction that re-reads the version first, so two backend processes starting
together apply each step exactly once. Append new steps; never edit a released one.
"""

from __future__ import annotations

import sqlite3

_V1 = (
    """
    CREATE TABLE captures (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        captured_at REAL NOT NULL,
        monitor INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX captures_by_time ON captures (captured_at, id)",
    """
    CREATE TABLE storage_totals (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        captures INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    ) STRICT
    """,
    "INSERT INTO storage_totals (id, captures, bytes) VALUES (1, 0, 0)",
    """
    CREATE TRIGGER captures_count_insert AFTER INSERT ON captures BEGIN
        UPDATE storage_totals SET captures = captures + 1, bytes = bytes + NEW.bytes WHERE id = 1;
    END
    """,
    """
    CREATE TRIGGER captures_count_delete AFTER DELETE ON captures BEGIN
        UPDATE storage_totals SET captures = captures - 1, bytes = bytes - OLD.bytes WHERE id = 1;
    END
    """,
)

# v2: thumbnails count against the storage budget too.
_V2 = (
    "ALTER TABLE captures ADD COLUMN thumbnail_bytes INTEGER NOT NULL DEFAULT 0",
    "DROP TRIGGER captures_count_insert",
    "DROP TRIGGER captures_count_delete",
    """
    CREATE TRIGGER captures_count_insert AFTER INSERT ON captures BEGIN
        UPDATE storage_totals SET captures = captures + 1,
            bytes = bytes + NEW.bytes + NEW.thumbnail_bytes WHERE id = 1;
    END
    """,
    """
    CREATE TRIGGER captures_count_delete AFTER DELETE ON captures BEGIN
        UPDATE storage_totals SET captures = captures - 1,
            bytes = bytes - OLD.bytes - OLD.thumbnail_bytes WHERE id = 1;
    END
    """,
    """
    CREATE TRIGGER captures_count_thumbnail AFTER UPDATE OF thumbnail_bytes ON captures BEGIN
        UPDATE storage_totals
            SET bytes = bytes + NEW.thumbnail_bytes - OLD.thumbnail_bytes WHERE id = 1;
    END
    """,
)

# v3: a journal of deletions (issue 11). Deleting a row journals its id in the same transaction;
# the journal row goes once the files are gone. The start-up sweep finishes what a crash left
# half-done and removes only journaled files: a file the catalog lacks is never deleted for that.
_V3 = (
    """
    CREATE TABLE deletions (
        id TEXT PRIMARY KEY,
        content_type TEXT NOT NULL,
        deleted_at REAL NOT NULL
    ) STRICT
    """,
    """
    CREATE TRIGGER captures_journal_delete AFTER DELETE ON captures BEGIN
        INSERT OR REPLACE INTO deletions (id, content_type, deleted_at)
            VALUES (OLD.id, OLD.content_type, (julianday('now') - 2440587.5) * 86400.0);
    END
    """,
)

# v4: what was on screen (issue 9): the active window's app, title, pid and process name; all
# nullable, as captures stored before (or where windows cannot be read) have none.
_V4 = (
    "ALTER TABLE captures ADD COLUMN app TEXT",
    "ALTER TABLE captures ADD COLUMN title TEXT",
    "ALTER TABLE captures ADD COLUMN pid INTEGER",
    "ALTER TABLE captures ADD COLUMN process TEXT",
    "CREATE INDEX captures_by_app ON captures (app, captured_at, id)",
)

# v5: the text on each capture and its full-text index (issue 10). ``capture_text.at_key`` is the
# capture's time in ms (the next free one on a tie), so the index's rowid order is time order; the
# index is FTS5 over the text's terms (CJK as bigrams, see backend/terms.py), kept by triggers.
# ``text_pending`` lists captures without text (the indexer's backlog). ``terms`` comes before the
# larger ``words``: ranking reads it for a window of rows. Deleting a capture
# deletes its text, index rows and pending entry in the same transaction (triggers).
_V5 = (
    """
    CREATE TABLE capture_text (
        at_key INTEGER PRIMARY KEY,
        capture_id TEXT NOT NULL UNIQUE,
        engine TEXT NOT NULL,
        lang TEXT NOT NULL,
        failed TEXT,
        stored_at REAL NOT NULL,
        terms TEXT NOT NULL,
        words BLOB NOT NULL
    ) STRICT
    """,
    """
    CREATE VIRTUAL TABLE capture_fts USING fts5(
        terms, content='capture_text', content_rowid='at_key',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER capture_text_index AFTER INSERT ON capture_text BEGIN
        INSERT INTO capture_fts (rowid, terms) VALUES (NEW.at_key, NEW.terms);
    END
    """,
    """
    CREATE TRIGGER capture_text_unindex AFTER DELETE ON capture_text BEGIN
        INSERT INTO capture_fts (capture_fts, rowid, terms)
            VALUES ('delete', OLD.at_key, OLD.terms);
    END
    """,
    """
    CREATE TRIGGER capture_text_reindex AFTER UPDATE ON capture_text BEGIN
        INSERT INTO capture_fts (capture_fts, rowid, terms)
            VALUES ('delete', OLD.at_key, OLD.terms);
        INSERT INTO capture_fts (rowid, terms) VALUES (NEW.at_key, NEW.terms);
    END
    """,
    """
    CREATE TABLE text_pending (
        capture_id TEXT PRIMARY KEY,
        captured_at REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX text_pending_by_time ON text_pending (captured_at, capture_id)",
    "INSERT INTO text_pending (capture_id, captured_at) SELECT id, captured_at FROM captures",
    """
    CREATE TRIGGER captures_text_pending AFTER INSERT ON captures BEGIN
        INSERT OR IGNORE INTO text_pending (capture_id, captured_at)
            VALUES (NEW.id, NEW.captured_at);
    END
    """,
    """
    CREATE TRIGGER captures_text_delete AFTER DELETE ON captures BEGIN
        DELETE FROM capture_text WHERE capture_id = OLD.id;
        DELETE FROM text_pending WHERE capture_id = OLD.id;
    END
    """,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer ctxbus than this one."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in the database file."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; returns the version found before."""
    found = schema_version(conn)
    _refuse_newer(found)
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)  # another process may have migrated meanwhile
        _refuse_newer(current)
        for version in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the database has schema version {version}, newer than this ctxbus knows "
            f"({SCHEMA_VERSION}); upgrade ctxbus, or move the data dir aside to start empty"
        )
