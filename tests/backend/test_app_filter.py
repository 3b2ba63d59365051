"""What was on screen (issue 9): stored with each capture, listed, filtered and deleted by app."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.backend.conftest import Running, encode_image

WINDOWS = {
    "a1": {"app": "Firefox", "title": "News — Mozilla Firefox", "pid": 4242, "process": "firefox"},
    "a2": {"app": "Firefox", "title": "Mail — Mozilla Firefox", "pid": 4242, "process": "firefox"},
    "b1": {"app": "XTerm", "title": "~/src", "pid": 77, "process": "xterm"},
}


async def _upload(client: httpx.AsyncClient, key: str, at: float, **window: Any) -> httpx.Response:
    params = {"captured_at": at, "monitor": 1, "width": 64, "height": 48, **window}
    headers = {"Idempotency-Key": key, "Content-Type": "image/webp"}
    return await client.post(
        "/api/captures", params=params, headers=headers, content=encode_image()
    )


async def _store_all(running: Running) -> dict[str, dict[str, Any]]:
    records = {}
    for number, (key, window) in enumerate(WINDOWS.items()):
        response = await _upload(running.client, key, 1000.0 + number, **window)
        assert response.status_code == 201, response.text
        records[key] = response.json()
    response = await _upload(running.client, "none", 1010.0)  # windows not readable
    records["none"] = response.json()
    return records


async def _apps(running: Running, **params: Any) -> list[str | None]:
    response = await running.client.get("/api/captures", params=params)
    assert response.status_code == 200, response.text
    return [item["app"] for item in response.json()["items"]]


async def test_window_fields_are_stored_and_listed(running: Running) -> None:
    """app, title, pid and process sent with an upload come back in its record and the list."""
    records = await _store_all(running)
    for key, window in WINDOWS.items():
        assert {name: records[key][name] for name in window} == window
        listed = await running.client.get(f"/api/captures/{records[key]['id']}")
        assert {name: listed.json()[name] for name in window} == window
    assert records["none"]["app"] is None
    assert records["none"]["title"] is None


async def test_filter_by_app_and_time(running: Running) -> None:
    """?app= lists that app's captures only; from/to (aliases of since/until) narrow the time."""
    await _store_all(running)
    assert await _apps(running, app="Firefox") == ["Firefox", "Firefox"]
    assert await _apps(running, app="XTerm") == ["XTerm"]
    assert await _apps(running, app="Nothing") == []
    assert await _apps(running, app="Firefox", **{"from": 1001.0, "to": 1002.0}) == ["Firefox"]
    assert await _apps(running, **{"from": 1002.0}) == [None, "XTerm"]


async def test_title_longer_than_512_is_refused(running: Running) -> None:
    """A title over 512 characters is a 4xx (capture caps titles before sending)."""
    response = await _upload(running.client, "long", time.time(), app="X", title="t" * 513)
    assert 400 <= response.status_code < 500


async def test_delete_by_app_removes_rows_and_files(running: Running) -> None:
    """DELETE /api/captures?app= deletes that app's rows, images and thumbnails; others stay."""
    records = await _store_all(running)
    thumb = await running.client.get(records["a1"]["thumbnail_url"])
    assert thumb.status_code == 200
    store = running.backend.store
    paths = [store.image_path(records[k]["id"], "image/webp") for k in ("a1", "a2")]
    paths.append(store.thumbnail_path(records["a1"]["id"]))
    assert all(path.exists() for path in paths)
    response = await running.client.delete("/api/captures", params={"app": "Firefox"})
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 2}
    assert not any(path.exists() for path in paths)
    assert await _apps(running) == [None, "XTerm"]
    for key in ("a1", "a2"):
        gone = await running.client.get(f"/api/captures/{records[key]['id']}")
        assert gone.status_code == 404


async def test_delete_needs_an_app(running: Running) -> None:
    """DELETE /api/captures without ?app= deletes nothing and is a 4xx."""
    await _store_all(running)
    response = await running.client.delete("/api/captures")
    assert 400 <= response.status_code < 500
    assert len(await _apps(running)) == 4
