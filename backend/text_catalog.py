"""SQL for the text on captures (schema v5): ``capture_text``, its FTS5 index ``capture_fts`` and
the ``text_pending`` backlog. Like :mod:`backend.catalog`, every function takes a connection
already inside a transaction and is blocking.

A capture's text is stored once per engine version: storing it again with the same engine changes
nothing, another engine replaces it. The words (with their boxes) are kept as zlib-compressed
JSON; ``terms`` is what the index holds (see :mod:`backend.terms`). Triggers keep the index and
the backlog in step with both tables, deletions of captures included.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec

from backend.catalog import COLUMNS, Capture, get_capture
from backend.terms import index_terms, join_words

TEXT_COLUMNS = "capture_id, engine, lang, words, failed"


class Word(msgspec.Struct, frozen=True):
    """One OCR word and its box, in the image's pixels."""

    text: str
    x: int
    y: int
    w: int
    h: int
    conf: float


class CaptureText(msgspec.Struct, frozen=True):
    """The text an engine read on one capture (no words and a reason when it failed)."""

    capture_id: str
    engine: str
    lang: str
    words: list[Word]
    failed: str | None = None

    @property
    def text(self) -> str:
        """The words as one text (see :func:`backend.terms.join_words`)."""
        return join_words(word.text for word in self.words)[0]


WordRow = list[Any]  # a stored word, as decoded: [text, x, y, w, h, conf]


class KeyedWords(msgspec.Struct, frozen=True):
    """A text's capture and its words as stored, as search reads them."""

    capture_id: str
    rows: list[WordRow]

    @property
    def texts(self) -> list[str]:
        """Each word's text."""
        return [row[0] for row in self.rows]


class Stored(msgspec.Struct, frozen=True):
    """The outcome of storing a text: what is stored now and whether this call stored it."""

    text: CaptureText
    created: bool


class Pending(msgspec.Struct, frozen=True):
    """A capture the indexer has not read yet."""

    capture_id: str
    captured_at: float
    monitor: int


def time_key(captured_at: float) -> int:
    """The index key of a capture's text before collisions: its capture time in ms."""
    return round(captured_at * 1000)


def key_time(at_key: int) -> float:
    """The capture time (unix seconds) an index key encodes, to the ms."""
    return at_key / 1000


def store_text(conn: sqlite3.Connection, text: CaptureText) -> Stored | None:
    """Store ``text`` unless the same engine's is stored; None if the capture does not exist."""
    capture = get_capture(conn, text.capture_id)
    if capture is None:
        return None
    current = _current(conn, text.capture_id)
    if current is not None and current[1].engine == text.engine:
        return Stored(current[1], created=False)
    if current is not None:
        conn.execute("DELETE FROM capture_text WHERE capture_id = ?", (text.capture_id,))
        at_key = current[0]
    else:
        at_key = _free_key(conn, time_key(capture.captured_at))
    conn.execute(
        "INSERT INTO capture_text (at_key, capture_id, engine, lang, words, terms, failed, "
        "stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at_key,
            text.capture_id,
            text.engine,
            text.lang,
            pack_words(text.words),
            index_terms(text.text),
            text.failed,
            time.time(),
        ),
    )
    conn.execute("DELETE FROM text_pending WHERE capture_id = ?", (text.capture_id,))
    return Stored(text, created=True)


def read_text(conn: sqlite3.Connection, capture_id: str) -> CaptureText | None:
    """The stored text of a capture, if any."""
    current = _current(conn, capture_id)
    return None if current is None else current[1]


def words_by_key(conn: sqlite3.Connection, keys: Sequence[int]) -> dict[int, KeyedWords]:
    """The capture ids and words (as stored: rows, see :func:`pack_words`) under these keys."""
    marks = ", ".join("?" * len(keys))
    sql = f"SELECT at_key, capture_id, words FROM capture_text WHERE at_key IN ({marks})"
    return {
        key: KeyedWords(capture_id, word_rows(blob))
        for key, capture_id, blob in conn.execute(sql, list(keys))
    }


def terms_by_key(conn: sqlite3.Connection, keys: Sequence[int]) -> dict[int, str]:
    """The index terms stored under these keys."""
    marks = ", ".join("?" * len(keys))
    sql = f"SELECT at_key, terms FROM capture_text WHERE at_key IN ({marks})"
    return dict(conn.execute(sql, list(keys)).fetchall())


def captures_by_id(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Capture]:
    """The captures with these ids."""
    marks = ", ".join("?" * len(ids))
    rows = conn.execute(f"SELECT {COLUMNS} FROM captures WHERE id IN ({marks})", list(ids))
    return {capture.id: capture for capture in (Capture(*row) for row in rows)}


def backlog(conn: sqlite3.Connection, limit: int) -> list[Pending]:
    """Up to ``limit`` captures without text (and not failed), newest first."""
    sql = (
        "SELECT c.id, c.captured_at, c.monitor FROM text_pending p JOIN captures c "
        "ON c.id = p.capture_id ORDER BY p.captured_at DESC, p.capture_id DESC LIMIT ?"
    )
    return [Pending(*row) for row in conn.execute(sql, (limit,))]


def pack_words(words: Sequence[Word]) -> bytes:
    """Words as stored: zlib-compressed JSON rows ``[text, x, y, w, h, conf]``."""
    rows = [[w.text, w.x, w.y, w.w, w.h, round(w.conf, 2)] for w in words]
    return zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode())


def word_rows(blob: bytes) -> list[WordRow]:
    """The rows :func:`pack_words` stored."""
    rows: list[WordRow] = json.loads(zlib.decompress(blob))
    return rows


def unpack_words(blob: bytes) -> list[Word]:
    """The words :func:`pack_words` stored."""
    return [Word(*row) for row in word_rows(blob)]


def _current(conn: sqlite3.Connection, capture_id: str) -> tuple[int, CaptureText] | None:
    sql = f"SELECT at_key, {TEXT_COLUMNS} FROM capture_text WHERE capture_id = ?"
    row = conn.execute(sql, (capture_id,)).fetchone()
    return None if row is None else (row[0], _text(row[1:]))


def _text(row: Sequence[object]) -> CaptureText:
    capture_id, engine, lang, words, failed = row
    assert isinstance(words, bytes)
    return CaptureText(
        str(capture_id),
        str(engine),
        str(lang),
        unpack_words(words),
        None if failed is None else str(failed),
    )


def _free_key(conn: sqlite3.Connection, key: int) -> int:
    """``key``, or the next one no text holds (two captures in one ms: the monitors)."""
    while conn.execute("SELECT 1 FROM capture_text WHERE at_key = ?", (key,)).fetchone():
        key += 1
    return key
