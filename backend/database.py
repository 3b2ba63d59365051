"""The SQLite file every backend process shares: WAL mode, a busy timeout, calls off the event loop.

Several backend processes may use one data dir at once (a warm standby overlaps the active one),
so: WAL lets readers run beside a writer, ``busy_timeout`` makes a writer wait for another
process's transaction instead of failing, and writes take the lock up front (``BEGIN IMMEDIATE``).

Within a process, writes share one connection behind a lock; reads use one connection per worker
thread. Every call runs in a thread via :func:`asyncio.to_thread`. SQLite errors leave as
:class:`DatabaseUnavailable` (503: retry) or, when the disk is full, as a 507 ``disk_full``;
never as raw ``sqlite3`` exceptions.

Damage: :meth:`Database.open` reads a row of every table, and :meth:`Database.check_integrity`
(``PRAGMA quick_check``, run off the event loop at start and again when a query meets damage)
records what it finds in :attr:`Database.problem`, which ``/health`` reports.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import structlog

from backend.errors import ServiceUnavailable, disk_full
from backend.migrations import migrate

log = structlog.get_logger(__name__)

DB_FILE = "ctxbus.sqlite3"
BUSY_TIMEOUT_S = 5.0
QUICK_CHECK_ROWS = 5  # the first few problems name the damage well enough
DAMAGE_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
LOW_FREE_BYTES = 64 * 1024  # an I/O error with less than this free is a full disk

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
        self.problem: str | None = None  # the damage found, None while the file looks sound
        self.checked_at: float | None = None  # time.monotonic() of the last quick_check

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
            db._probe()
        except sqlite3.Error as exc:
            db.close()
            raise DatabaseOpenError(_cannot_open(data_dir, exc)) from exc
        except BaseException:
            db.close()
            raise
        log.info("database_opened", schema_from=found)
        return db

    def check_integrity(self) -> str | None:
        """Run ``PRAGMA quick_check`` on a connection of its own; record and return the damage
        found (None if none). Blocking."""
        self.checked_at = time.monotonic()
        try:
            conn = _connect(self.path)
            try:
                rows = conn.execute(f"PRAGMA quick_check({QUICK_CHECK_ROWS})").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            if not _is_damage(exc):
                return self.problem  # busy or closing: nothing learnt
            found: str | None = str(exc)
        else:
            found = (
                None if rows == [("ok",)] else "; ".join(" ".join(str(r[0]).split()) for r in rows)
            )
        self._record(found)
        return found

    def _probe(self) -> None:
        """Read one row of every table: a damaged root page shows at once."""
        tables = self._writer.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (name,) in tables.fetchall():
            try:
                self._writer.execute(f'SELECT * FROM "{name}" LIMIT 1').fetchall()
            except sqlite3.DatabaseError as exc:
                if not _is_damage(exc):
                    raise
                self._record(f"table {name}: {exc}")
                return

    def _record(self, problem: str | None) -> None:
        if problem is not None and problem != self.problem:
            log.error("database_damaged", problem=problem, file=self.path.name)
        elif problem is None and self.problem is not None:
            log.info("database_sound_again")
        self.problem = problem

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
        with self._mapped_errors():
            conn.execute("BEGIN")
            try:
                result = query(conn)
            finally:
                conn.execute("COMMIT")  # a read transaction: ends the snapshot
            return result

    def _run_write(self, query: Query[T]) -> T:
        with self._write_lock, self._mapped_errors():
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

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """Turn ``sqlite3`` errors into API errors at the boundary; note damage met."""
        try:
            yield
        except sqlite3.Error as exc:
            if _is_damage(exc):
                self._record(self.problem or str(exc))
                raise _damaged(exc) from exc
            if _is_full(exc, self.path):
                raise disk_full(_free_bytes(self.path), "writing to the database") from exc
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise DatabaseUnavailable(
                    "database_busy", "the database is busy (another ctxbus backend holds it); retry"
                ) from exc
            raise _failed(exc) from exc


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


def _is_damage(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(DAMAGE_ERRORS) or "malformed" in str(exc)


def _is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _is_full(exc: sqlite3.Error, path: Path) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL":
        return True
    return name.startswith("SQLITE_IOERR") and _free_bytes(path) < LOW_FREE_BYTES


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 0


def _damaged(exc: sqlite3.Error) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        "database_damaged",
        f"the database file is damaged ({exc}); stop ctxbus and move {DB_FILE} out of the "
        "data dir: at the next start the backend rebuilds the catalog from the image files",
    )


def _failed(exc: sqlite3.Error) -> DatabaseUnavailable:
    log.error("database_failed", error=str(exc))
    return DatabaseUnavailable(
        "database_error", "the database failed; the backend log has the details, retry later"
    )
