"""The SQLite file every backend process shares: WAL mode, a busy timeout, calls off the event loop.

Several backend processes may use one data dir at once (a warm standby overlaps the active one),
so: WAL lets readers run beside a writer, ``busy_timeout`` makes a writer wait for another
process's transaction instead of failing, and writes take the lock up front (``BEGIN IMMEDIATE``).

Within a process, writes share one connection behind a lock; reads use one connection per worker
thread. Every call runs in a thread via :func:`asyncio.to_thread`. SQLite errors leave as
:class:`DatabaseUnavailable` (503: retry), never as raw ``sqlite3`` exceptions.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import structlog

from backend.errors import ServiceUnavailable
from backend.migrations import migrate

log = structlog.get_logger(__name__)

DB_FILE = "ctxbus.sqlite3"
BUSY_TIMEOUT_S = 5.0

T = TypeVar("T")
Query = Callable[[sqlite3.Connection], T]


class DatabaseUnavailable(ServiceUnavailable):
    """The database is locked by another process for too long, or failing."""


class DatabaseOpenError(RuntimeError):
    """The database file cannot be created, opened or migrated; the backend cannot start."""


class Database:
    """One process's handle on the shared SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._writer = _connect(path)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        """Open (creating if need be) the database in ``data_dir`` and migrate it. Blocking."""
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            db = cls(data_dir / DB_FILE)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseOpenError(_cannot_open(data_dir, exc)) from exc
        try:
            db._writer.execute("PRAGMA journal_mode = WAL")
            found = migrate(db._writer)
        except sqlite3.Error as exc:
            db.close()
            raise DatabaseOpenError(_cannot_open(data_dir, exc)) from exc
        except BaseException:
            db.close()
            raise
        log.info("database.opened", schema_from=found)
        return db

    async def read(self, query: Query[T]) -> T:
        """Run ``query`` in a read transaction (a consistent snapshot), in a thread."""
        return await asyncio.to_thread(self._run_read, query)

    async def write(self, query: Query[T]) -> T:
        """Run ``query`` in one ``BEGIN IMMEDIATE`` transaction, committed if it returns."""
        return await asyncio.to_thread(self._run_write, query)

    def close(self) -> None:
        """Close every connection this process opened. Blocking; call once calls have stopped."""
        self._closed = True
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def _run_read(self, query: Query[T]) -> T:
        conn = self._reader()
        with _mapped_errors():
            conn.execute("BEGIN")
            try:
                result = query(conn)
            finally:
                conn.execute("COMMIT")  # a read transaction: ends the snapshot
            return result

    def _run_write(self, query: Query[T]) -> T:
        with self._write_lock, _mapped_errors():
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = query(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise DatabaseUnavailable("database_closed", "the backend is shutting down; retry")
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous = FULL")  # a committed row survives a power cut too
    return conn


def _cannot_open(data_dir: Path, exc: BaseException) -> str:
    return (
        f"cannot open the database in {data_dir} ({exc}); check that the data dir is a "
        "writable directory (CTXBUS_BACKEND_DATA_DIR) and that its disk is not full"
    )


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turn ``sqlite3`` errors into :class:`DatabaseUnavailable` at the boundary."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise _failed(exc) from exc
        raise DatabaseUnavailable(
            "database_busy", "the database is busy (another ctxbus backend holds it); retry"
        ) from exc
    except sqlite3.Error as exc:
        raise _failed(exc) from exc


def _failed(exc: sqlite3.Error) -> DatabaseUnavailable:
    log.error("database.failed", error=str(exc))
    return DatabaseUnavailable(
        "database_error", "the database failed; the backend log has the details, retry later"
    )
