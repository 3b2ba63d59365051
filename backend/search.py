"""Full-text search over the captures' text: FTS5 finds, recency and relevance rank.

Ranking looks at a *window*: the newest :data:`WINDOW` matches below a key (FTS5 streams them in
rowid order, which is capture-time order, and stops there: the cost of a query is bounded however
common its words are). Within a window hits are ordered by relevance (:mod:`backend.relevance`;
not FTS5's ``bm25()``, which scans the whole index per query) weighed by age, a match
:data:`RECENCY_SCALE_S` older than the window's newest counting half as much. Pages go
through a window, then on to the next older one; a cursor is the window's upper key and the
offset in it. So the newest screens come first and a very relevant old one is found on a later
page, never missed.

Blocking, like :mod:`backend.catalog`: run :func:`search` in one read transaction.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3

import msgspec

from backend.catalog import Capture
from backend.errors import BadRequest
from backend.highlight import highlight
from backend.query import Query
from backend.relevance import scores, term_patterns
from backend.text_catalog import (
    Word,
    captures_by_id,
    key_time,
    terms_by_key,
    time_key,
    words_by_key,
)

WINDOW = 200
RECENCY_SCALE_S = 7 * 86_400.0
MAX_KEY = (1 << 62) - 1
CURSOR_VERSION = "s1"
MAX_CURSOR_CHARS = 96


class SearchCursor(msgspec.Struct, frozen=True):
    """Where the next page starts: in the window of matches below ``top``, after ``offset``."""

    top: int
    offset: int


class SearchRequest(msgspec.Struct, frozen=True):
    """One page's worth of a search."""

    query: Query
    limit: int
    app: str | None = None
    since: float | None = None
    until: float | None = None
    cursor: SearchCursor | None = None


class Hit(msgspec.Struct, frozen=True):
    """A capture that matched, its snippet (HTML, matches in ``<mark>``) and matched words."""

    capture: Capture
    snippet: str
    boxes: list[Word]


class SearchPage(msgspec.Struct, frozen=True):
    """Hits, best first, and the cursor of the next page (None at the end)."""

    hits: list[Hit]
    next_cursor: SearchCursor | None


def search(conn: sqlite3.Connection, request: SearchRequest) -> SearchPage:
    """One page of hits for ``request``."""
    keys, cursor = _page_keys(conn, request)
    texts = words_by_key(conn, keys) if keys else {}
    captures = captures_by_id(conn, [t.capture_id for t in texts.values()]) if texts else {}
    hits = []
    for key in keys:
        text = texts.get(key)
        capture = captures.get(text.capture_id) if text is not None else None
        if text is not None and capture is not None:
            found = highlight(text.texts, request.query)
            boxes = [Word(*text.rows[i]) for i in found.matched]
            hits.append(Hit(capture, found.snippet, boxes))
    return SearchPage(hits, cursor)


def _page_keys(
    conn: sqlite3.Connection, request: SearchRequest
) -> tuple[list[int], SearchCursor | None]:
    """The keys of one page, and where the next starts (see the module's docstring)."""
    start = request.cursor or SearchCursor(MAX_KEY, 0)
    top: int | None = start.top
    offset = start.offset
    picked: list[int] = []
    while top is not None and len(picked) < request.limit:
        window = _window(conn, request, top)
        ranked = _ranked(conn, request.query, window)
        taken = ranked[offset : offset + request.limit - len(picked)]
        picked.extend(taken)
        offset += len(taken)
        if offset < len(ranked):
            break
        top = window[-1] if len(window) == WINDOW else None
        offset = 0
    return picked, None if top is None else SearchCursor(top, offset)


def _window(conn: sqlite3.Connection, request: SearchRequest, top: int) -> list[int]:
    """The keys of the newest :data:`WINDOW` matches below ``top``, newest first."""
    low = time_key(request.since) if request.since is not None else 0
    high = time_key(request.until) if request.until is not None else MAX_KEY
    params: list[str | int] = [request.query.fts(), min(top, high), low]
    join = app = ""
    if request.app is not None:
        join = (
            " JOIN capture_text t ON t.at_key = capture_fts.rowid"
            " JOIN captures c ON c.id = t.capture_id"
        )
        app = " AND c.app = ?"
        params.append(request.app)
    sql = (
        f"SELECT capture_fts.rowid FROM capture_fts{join} "
        f"WHERE capture_fts MATCH ? AND capture_fts.rowid < ? AND capture_fts.rowid >= ?{app} "
        "ORDER BY capture_fts.rowid DESC LIMIT ?"
    )
    return [key for (key,) in conn.execute(sql, (*params, WINDOW))]


def _ranked(conn: sqlite3.Connection, query: Query, window: list[int]) -> list[int]:
    """The window's keys, best first: relevance (:mod:`backend.relevance`) weighed by age, a
    match :data:`RECENCY_SCALE_S` older than the window's newest counting half."""
    if not window:
        return []
    texts = terms_by_key(conn, window)
    relevance = scores([texts.get(key, "") for key in window], term_patterns(query))
    newest = key_time(window[0])
    weighed = [
        (score / (1 + (newest - key_time(key)) / RECENCY_SCALE_S), key)
        for key, score in zip(window, relevance, strict=True)
    ]
    return [key for _, key in sorted(weighed, key=lambda item: (-item[0], -item[1]))]


def encode_cursor(cursor: SearchCursor) -> str:
    """The opaque string a client passes back for the next page."""
    raw = f"{CURSOR_VERSION}|{cursor.top}|{cursor.offset}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(text: str) -> SearchCursor:
    """The cursor :func:`encode_cursor` made; :class:`BadRequest` for anything else."""
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        version, top, offset = raw.split("|")
        cursor = SearchCursor(int(top), int(offset))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise _bad_cursor() from exc
    if version != CURSOR_VERSION or not 0 <= cursor.top <= MAX_KEY or not cursor.offset >= 0:
        raise _bad_cursor()
    if cursor.offset > WINDOW:
        raise _bad_cursor()
    return cursor


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "invalid_cursor",
        "cursor is not one this server issued; pass the next_cursor of a previous search "
        "page, or omit it to start from the best hits",
    )
