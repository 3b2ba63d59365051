"""Time per application from consecutive captures (GET /api/captures/apps, issue 9)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.backend.conftest import Running, encode_image

# (captured_at, app): A 1000-1010, B 1010-1022, A again 1022, a long gap, C, then no app.
FRAMES = [
    (1000.0, "A"),
    (1005.0, "A"),
    (1010.0, "B"),
    (1015.0, "B"),
    (1020.0, "B"),
    (1022.0, "A"),
    (1100.0, "C"),  # 78 s after the last A: over max_gap, A gets nothing for it
    (1104.0, None),
]


async def _store(client: httpx.AsyncClient) -> None:
    for number, (at, app) in enumerate(FRAMES):
        params: dict[str, Any] = {"captured_at": at, "monitor": 1, "width": 64, "height": 48}
        if app is not None:
            params["app"] = app
        headers = {"Idempotency-Key": f"k{number}", "Content-Type": "image/webp"}
        answer = await client.post(
            "/api/captures", params=params, headers=headers, content=encode_image()
        )
        assert answer.status_code == 201, answer.text


async def _times(running: Running, **params: Any) -> list[tuple[str | None, float, int]]:
    answer = await running.client.get("/api/captures/apps", params=params)
    assert answer.status_code == 200, answer.text
    return [(row["app"], row["seconds"], row["frames"]) for row in answer.json()["apps"]]


async def test_time_per_app_counts_gaps_up_to_max_gap(running: Running) -> None:
    """Each frame counts the time to the next one toward its app; longer gaps count nothing."""
    await _store(running.client)
    times = await _times(running, **{"from": 0, "to": 2000, "max_gap": 10})
    assert times == [("B", 12.0, 3), ("A", 10.0, 3), ("C", 4.0, 1), (None, 0.0, 1)]


async def test_a_longer_max_gap_counts_the_long_gap(running: Running) -> None:
    """With max_gap over the 78 s gap, the last A frame counts it."""
    await _store(running.client)
    times = await _times(running, **{"from": 0, "to": 2000, "max_gap": 100})
    assert times[0] == ("A", 88.0, 3)


async def test_only_frames_in_the_window_count(running: Running) -> None:
    """from/to bound the frames; the time to a frame past ``to`` is not counted."""
    await _store(running.client)
    times = await _times(running, **{"from": 1005, "to": 1015, "max_gap": 10})
    assert times == [("A", 5.0, 1), ("B", 0.0, 1)]


async def test_bad_window_is_refused(running: Running) -> None:
    """from after to is a 400 invalid_range; a missing from is a 4xx; an empty window is []."""
    bad = await running.client.get("/api/captures/apps", params={"from": 5, "to": 1})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_range")
    missing = await running.client.get("/api/captures/apps", params={"to": 1})
    assert 400 <= missing.status_code < 500
    assert await _times(running, **{"from": 0, "to": 1}) == []
