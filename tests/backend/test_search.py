"""The text on captures and full-text search (issue 10), on a real backend with real SQLite."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.catalog import Capture, insert_capture
from backend.ids import new_capture_id
from backend.search import WINDOW
from backend.text_catalog import CaptureText, Word, store_text
from tests.backend.conftest import Running, encode_image

ENGINE = "tesseract-5.3.0"


def words(text: str, *, y: int = 10) -> list[dict[str, Any]]:
    """OCR-like words for ``text``: one per space-separated piece, side by side."""
    return [
        {"text": t, "x": 10 + 60 * i, "y": y, "w": 50, "h": 12, "conf": 91.5}
        for i, t in enumerate(text.split())
    ]


async def capture(
    client: httpx.AsyncClient, key: str, at: float | None = None, app: str | None = None
) -> str:
    """Upload a capture; its id."""
    params: dict[str, Any] = {"captured_at": at or time.time(), "monitor": 1, "width": 64}
    params |= {"height": 48} | ({"app": app} if app else {})
    headers = {"Idempotency-Key": key, "Content-Type": "image/webp"}
    response = await client.post(
        "/api/captures", params=params, headers=headers, content=encode_image()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def put_text(
    client: httpx.AsyncClient, capture_id: str, text: str, engine: str = ENGINE
) -> httpx.Response:
    body = {"engine": engine, "lang": "eng+chi_sim", "words": words(text), "failed": None}
    return await client.put(f"/api/captures/{capture_id}/text", json=body)


async def indexed(running: Running, text: str, **kwargs: Any) -> str:
    """A capture with ``text`` stored on it; its id."""
    capture_id = await capture(running.client, new_capture_id(), **kwargs)
    assert (await put_text(running.client, capture_id, text)).status_code == 201
    return capture_id


async def hit_ids(running: Running, q: str, **params: Any) -> list[str]:
    response = await running.client.get("/api/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [item["capture"]["id"] for item in response.json()["items"]]


async def test_put_text_once_per_engine(running: Running) -> None:
    """First PUT 201; the same engine again 200 with the stored text, unchanged; another engine
    replaces it (201); GET returns what is stored."""
    capture_id = await capture(running.client, "k")
    first = await put_text(running.client, capture_id, "hello world")
    assert first.status_code == 201
    assert first.json()["text"] == "hello world"
    assert first.json()["words"][0] == words("hello world")[0]
    again = await put_text(running.client, capture_id, "something else")
    assert (again.status_code, again.json()) == (200, first.json())
    assert await hit_ids(running, "else") == []
    newer = await put_text(running.client, capture_id, "other words", engine="tesseract-5.4.0")
    assert newer.status_code == 201
    got = (await running.client.get(f"/api/captures/{capture_id}/text")).json()
    assert (got["engine"], got["text"], got["failed"]) == ("tesseract-5.4.0", "other words", None)
    assert await hit_ids(running, "hello") == []
    assert await hit_ids(running, "other") == [capture_id]


async def test_put_text_refusals(running: Running) -> None:
    """Unknown capture 404, malformed id or body 400, body over 2 MB 413; GET without text 404."""
    unknown = new_capture_id()
    assert (await put_text(running.client, unknown, "x")).status_code == 404
    assert (await running.client.get(f"/api/captures/{unknown}/text")).status_code == 404
    assert (await put_text(running.client, "nope", "x")).status_code == 400
    capture_id = await capture(running.client, "k")
    url = f"/api/captures/{capture_id}/text"
    for bad in (b"", b"{", b'{"engine": ""}', b'{"engine": "e", "words": [{"text": 1}]}'):
        response = await running.client.put(url, content=bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_text"
    huge = await running.client.put(url, content=b" " * (2 * 1024 * 1024 + 1))
    assert huge.status_code == 413
    assert (await running.client.get(url)).status_code == 404


async def test_backlog_newest_first_without_text_or_failed(running: Running) -> None:
    """The backlog lists captures without text, newest first; stored and failed ones leave it."""
    now = time.time()
    ids = [await capture(running.client, f"k{i}", at=now - 100 + i) for i in range(4)]
    backlog = (await running.client.get("/api/captures/backlog")).json()["items"]
    assert [item["id"] for item in backlog] == ids[::-1]
    assert backlog[0]["image_url"] == f"/api/captures/{ids[3]}/image"
    assert set(backlog[0]) == {"id", "captured_at", "monitor", "image_url"}
    await put_text(running.client, ids[3], "done")
    failed = {"engine": ENGINE, "lang": "eng", "words": [], "failed": "truncated image"}
    response = await running.client.put(f"/api/captures/{ids[1]}/text", json=failed)
    assert (response.status_code, response.json()["failed"]) == (201, "truncated image")
    limited = await running.client.get("/api/captures/backlog", params={"limit": 1})
    assert [item["id"] for item in limited.json()["items"]] == [ids[2]]
    rest = (await running.client.get("/api/captures/backlog")).json()["items"]
    assert [item["id"] for item in rest] == [ids[2], ids[0]]


async def test_words_phrases_and_prefixes(running: Running) -> None:
    """All words must match; a quoted phrase needs them adjacent, in order; conf* is a prefix."""
    a = await indexed(running, "the disk is full please free space")
    b = await indexed(running, "disk full error in the configuration")
    assert set(await hit_ids(running, "disk full")) == {a, b}
    assert await hit_ids(running, '"disk full"') == [b]
    assert await hit_ids(running, "conf*") == [b]
    assert await hit_ids(running, "conf") == []
    assert await hit_ids(running, "DISK Plëase") == [a]  # case and diacritics folded


async def test_ranked_by_relevance_then_recency(running: Running) -> None:
    """More matches in fewer words rank first; of equal texts the newer ranks first."""
    now = time.time()
    sparse = await indexed(running, "kernel " + "filler " * 40, at=now - 10)
    dense = await indexed(running, "kernel panic kernel oops kernel", at=now - 20)
    assert await hit_ids(running, "kernel") == [dense, sparse]
    old = await indexed(running, "quarterly report draft", at=now - 30 * 86_400)
    new = await indexed(running, "quarterly report draft", at=now - 60)
    assert await hit_ids(running, "quarterly") == [new, old]


async def test_hit_has_capture_snippet_and_boxes(running: Running) -> None:
    """A hit carries the listed capture record, an escaped snippet with <mark>s and the boxes."""
    capture_id = await indexed(running, "open <script> the invoice.pdf now")
    listed = (await running.client.get("/api/captures")).json()["items"][0]
    hit = (await running.client.get("/api/search", params={"q": "invoice"})).json()["items"][0]
    assert hit["capture"] == listed
    assert hit["capture"]["id"] == capture_id
    assert hit["snippet"] == "open &lt;script&gt; the <mark>invoice.pdf</mark> now"
    assert hit["boxes"] == [{"x": 190, "y": 10, "w": 50, "h": 12, "text": "invoice.pdf"}]


async def test_chinese_words_inside_longer_runs(running: Running) -> None:
    """Two-character Chinese words are found inside longer runs, also when OCR returns one word
    per character; their boxes are those characters'; English beside Chinese works too."""
    joined = await indexed(running, "磁盘空间不足 请删除文件")
    per_char = await indexed(running, "数 据 库 连 接 失 败 version 2")
    assert await hit_ids(running, "空间") == [joined]
    assert await hit_ids(running, "删除") == [joined]
    assert await hit_ids(running, "连接") == [per_char]
    assert await hit_ids(running, "数据库") == [per_char]
    assert await hit_ids(running, "库数") == []
    assert await hit_ids(running, '"数"') == [per_char]  # a lone character: the words it starts
    assert await hit_ids(running, "失败 version") == [per_char]
    hit = (await running.client.get("/api/search", params={"q": "连接"})).json()["items"][0]
    assert [box["text"] for box in hit["boxes"]] == ["连", "接"]


async def test_app_and_time_filters(running: Running) -> None:
    """app= keeps one application's captures; from/to a time range."""
    now = time.time()
    term = await indexed(running, "deploy finished", at=now - 100, app="XTerm")
    web = await indexed(running, "deploy finished", at=now - 50, app="Firefox")
    assert await hit_ids(running, "deploy", app="XTerm") == [term]
    assert await hit_ids(running, "deploy", app="Nothing") == []
    assert await hit_ids(running, "deploy", **{"from": now - 75}) == [web]
    assert await hit_ids(running, "deploy", to=now - 75) == [term]
    bad = await running.client.get("/api/search", params={"q": "x", "from": 5, "to": 1})
    assert bad.status_code == 400


async def test_pages_cover_every_hit_once(running: Running) -> None:
    """Following next_cursor through more than one ranking window yields every hit once."""
    total = WINDOW + 30
    now = time.time()
    await running.backend.db.write(partial(_store_many, count=total, now=now))
    seen: list[str] = []
    params: dict[str, Any] = {"q": "needle", "limit": 100}
    while True:
        page = (await running.client.get("/api/search", params=params)).json()
        seen += [item["capture"]["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == total
    assert len(set(seen)) == total


def _store_many(conn: Any, count: int, now: float) -> None:
    for i in range(count):
        capture = Capture(
            new_capture_id(), f"bulk-{i}", now - i, 1, 64, 48, "image/webp", 1, "0", now
        )
        insert_capture(conn, capture)
        word = Word("needle" if i % 2 else "needle needle", 0, 0, 1, 1, 90.0)
        store_text(conn, CaptureText(capture.id, ENGINE, "eng", [word]))


async def _fts_rows(running: Running, capture_id: str) -> tuple[int, int, int]:
    """Rows of this capture: text, pending, and index rows under its text's key."""

    def count(conn: Any) -> tuple[int, int, int]:
        text = conn.execute("SELECT count(*) FROM capture_text WHERE capture_id = ?", (capture_id,))
        pending = conn.execute(
            "SELECT count(*) FROM text_pending WHERE capture_id = ?", (capture_id,)
        )
        index = conn.execute("SELECT count(*) FROM capture_fts WHERE capture_fts MATCH 'orphan'")
        return text.fetchone()[0], pending.fetchone()[0], index.fetchone()[0]

    return await running.backend.db.read(count)


async def test_deleting_captures_deletes_their_text(running: Running) -> None:
    """Delete by id, by app and by retention: no text, backlog or index row is left behind, and
    the index passes FTS5's integrity check."""
    by_id = await indexed(running, "orphan one")
    by_app = await indexed(running, "orphan two", app="Secret")
    old = await indexed(running, "orphan three", at=time.time() - 400 * 86_400)
    pending = await capture(running.client, "no-text-yet")
    assert (await running.client.delete(f"/api/captures/{by_id}")).status_code == 204
    assert (await _fts_rows(running, by_id))[:2] == (0, 0)
    assert (await running.client.delete("/api/captures", params={"app": "Secret"})).is_success
    assert (await running.client.delete(f"/api/captures/{pending}")).status_code == 204
    await running.backend.maintenance.run_pass()  # retention: 30 days by default
    for gone in (by_id, by_app, old, pending):
        assert await _fts_rows(running, gone) == (0, 0, 0)
    assert await hit_ids(running, "orphan") == []

    def integrity(conn: Any) -> None:
        conn.execute("INSERT INTO capture_fts (capture_fts) VALUES ('integrity-check')")

    await running.backend.db.write(integrity)


@pytest.mark.parametrize(
    "q",
    [
        '"unbalanced',
        'a "b',
        "NEAR(a b)",
        "a AND OR NOT",
        "col:value ^start -minus +plus",
        "(((",
        "*",
        "x*y*",
        "\x00\x01\x7f tab\tnew\nline",
        "'; DROP TABLE captures; --",
        "数据库\u200b\ufeff",
    ],
)
async def test_odd_queries_are_searched_literally(running: Running, q: str) -> None:
    """FTS5 syntax, unbalanced quotes and control characters are searched as text: a 200."""
    await indexed(running, "a b value start minus plus x y line 数据库")
    response = await running.client.get("/api/search", params={"q": q})
    assert response.status_code in (200, 400), response.text
    if q not in ("*", "(((", "x*y*"):
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("q", "code"),
    [("", "empty_query"), ("!!!", "empty_query"), ("x" * 501, "query_too_long"),
     ("w " * 17, "too_many_terms"), ("a*", "prefix_too_short")],
)  # fmt: skip
async def test_unusable_queries_get_a_400(running: Running, q: str, code: str) -> None:
    """Queries with nothing to search, too long, too many terms or too short a prefix: 400."""
    response = await running.client.get("/api/search", params={"q": q})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


async def test_ten_kilobytes_of_query_is_a_400(running: Running) -> None:
    """10 KB of query text is refused with a 400, never a 500."""
    response = await running.client.get("/api/search", params={"q": "日志 " * 3400})
    assert response.status_code == 400


async def test_arbitrary_queries_never_fail(running: Running) -> None:
    """Any string as q (and any cursor) gets a 200 or a 400 with a message: never a 5xx."""
    await indexed(running, "some words to match 数据 against")
    loop = asyncio.get_running_loop()
    problems: list[str] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(q=st.text(max_size=600), cursor=st.none() | st.text(max_size=40))
    def check(q: str, cursor: str | None) -> None:
        params = {"q": q} | ({"cursor": cursor} if cursor is not None else {})
        future = asyncio.run_coroutine_threadsafe(
            running.client.get("/api/search", params=params), loop
        )
        response = future.result(timeout=30)
        if response.status_code not in (200, 400) or (
            response.status_code == 400 and not response.json()["error"]["message"]
        ):
            problems.append(f"{q!r} {cursor!r}: {response.status_code} {response.text}")

    await asyncio.to_thread(check)
    assert problems == []
