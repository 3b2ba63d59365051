"""`ctxbus search` (issue 10) against a real main with the real backend app."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.fixtures.processes import MainProcess, running_main
from tests.services.cli.conftest import ctxbus

REAL_APP = "backend.app:create_app"


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    """main serving the real backend app, ready."""
    async with running_main(runtime_dir, app=REAL_APP) as main:
        yield main


async def store(main: MainProcess, key: str, app: str, text: str, at: float) -> str:
    """A capture of ``app`` with ``text`` stored on it, through the backend's API; its id."""
    info = await main.port_info()
    headers = {"Authorization": f"Bearer {info.token}"}
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(image, format="PNG")
    params: dict[str, str | float] = {"captured_at": at, "monitor": 1, "width": 64, "height": 48}
    params |= {"app": app, "title": f"{app} window"}
    async with httpx.AsyncClient(base_url=info.base_url, headers=headers) as client:
        stored = await client.post(
            "/api/captures",
            params=params,
            headers={"Idempotency-Key": key, "Content-Type": "image/png"},
            content=image.getvalue(),
        )
        capture_id = str(stored.json()["id"])
        words = [{"text": t, "x": 1, "y": 1, "w": 5, "h": 5, "conf": 90.0} for t in text.split()]
        body = {"engine": "test-1", "lang": "eng", "words": words, "failed": None}
        put = await client.put(f"/api/captures/{capture_id}/text", json=body)
        assert put.status_code == 201, put.text
    return capture_id


async def test_search_json_lists_hits(runtime_dir: Path, real_main: MainProcess) -> None:
    """`ctxbus search --json` prints the API's hits; --app and --limit narrow them."""
    now = time.time()
    older = await store(real_main, "a", "XTerm", "make deploy finished", now - 60)
    newer = await store(real_main, "b", "Firefox", "deploy status page", now - 30)
    await store(real_main, "c", "Firefox", "nothing relevant", now - 10)
    ran = await ctxbus(runtime_dir, "search", "deploy", "--json")
    assert ran.code == 0, ran.err
    page = json.loads(ran.out)
    assert [hit["capture"]["id"] for hit in page["items"]] == [newer, older]
    assert page["items"][0]["snippet"] == "<mark>deploy</mark> status page"
    by_app = json.loads(
        (await ctxbus(runtime_dir, "search", "deploy", "--app", "XTerm", "--json")).out
    )
    assert [hit["capture"]["id"] for hit in by_app["items"]] == [older]
    one = json.loads((await ctxbus(runtime_dir, "search", "deploy", "--limit", "1", "--json")).out)
    assert len(one["items"]) == 1
    assert one["next_cursor"] is not None


async def test_search_prints_time_app_title_snippet_url(
    runtime_dir: Path, real_main: MainProcess
) -> None:
    """For people: time, app — title, the snippet (markup-like text shown literally), image URL."""
    at = time.time() - 5
    capture_id = await store(real_main, "a", "Editor", "see [red]notes[/red] quarterly", at)
    ran = await ctxbus(runtime_dir, "search", "quarterly")
    assert ran.code == 0, ran.err
    info = await real_main.port_info()
    lines = ran.out.splitlines()
    assert (
        lines[0]
        == f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))}  Editor — Editor window"
    )
    assert lines[1] == "  see [red]notes[/red] quarterly"
    assert lines[2] == f"  {info.base_url}/api/captures/{capture_id}/image"
    nothing = await ctxbus(runtime_dir, "search", "absent")
    assert (nothing.code, nothing.out.strip()) == (0, "nothing found for 'absent'")


async def test_no_main_and_bad_limit(runtime_dir: Path) -> None:
    """Without main: exit 1 saying so; a bad --limit is a usage error (exit 2)."""
    ran = await ctxbus(runtime_dir, "search", "x")
    assert (ran.code, "main is not running" in ran.err) == (1, True)
    assert (await ctxbus(runtime_dir, "search", "x", "--limit", "0")).code == 2


async def test_refused_query_exits_1(runtime_dir: Path, real_main: MainProcess) -> None:
    """A query the backend refuses (400) prints its message and exits 1."""
    ran = await ctxbus(runtime_dir, "search", "!!!")
    assert ran.code == 1
    assert "no letters or digits" in ran.err
