"""The indexer with a real main, backend and tesseract: text stored once per capture."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bench.scenery import desktop_image
from bus.ops import MainOps
from tests.fixtures.processes import MainProcess, running_main
from tests.services.indexer.harness import running_indexer
from tests.services.indexer.pictures import KNOWN_WORDS, encoded, page

BACKEND_APP = "backend.app:create_app"


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    """main with the real backend app (storage, captures and text API), ready."""
    async with running_main(runtime_dir, app=BACKEND_APP) as main:
        yield main


async def client(main: MainProcess) -> httpx.AsyncClient:
    info = await main.port_info()
    headers = {"Authorization": f"Bearer {info.token}"}
    return httpx.AsyncClient(base_url=info.base_url, headers=headers, timeout=30.0)


async def upload(main: MainProcess, body: bytes, size: tuple[int, int], media: str) -> str:
    """Store one capture through the API; its id."""
    async with await client(main) as http:
        response = await http.post(
            "/api/captures",
            params={"captured_at": time.time(), "monitor": 0, "width": size[0], "height": size[1]},
            headers={"Content-Type": media, "Idempotency-Key": f"k{time.monotonic_ns()}"},
            content=body,
        )
    response.raise_for_status()
    return str(response.json()["id"])


async def stored_text(main: MainProcess, capture_id: str) -> dict[str, object]:
    async with await client(main) as http:
        response = await http.get(f"/api/captures/{capture_id}/text")
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


async def backlog(main: MainProcess) -> list[str]:
    async with await client(main) as http:
        response = await http.get("/api/captures/backlog")
    response.raise_for_status()
    return [item["id"] for item in response.json()["items"]]


def truncated_webp() -> bytes:
    """A WebP whose RIFF and VP8 chunk sizes agree with its length, but whose bitstream is cut."""
    buffer = io.BytesIO()
    page().save(buffer, format="WEBP", quality=80)
    data = buffer.getvalue()
    assert data[12:16] == b"VP8 "
    bitstream = data[20 : 20 + struct.unpack("<I", data[16:20])[0]]
    cut = bitstream[: len(bitstream) // 2 & ~1]
    chunk = b"VP8 " + struct.pack("<I", len(cut)) + cut
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


async def test_a_stored_capture_gets_its_text(real_main: MainProcess, runtime_dir: Path) -> None:
    """A capture stored while the indexer was down is read from the backlog: words and boxes."""
    picture = page()
    capture_id = await upload(real_main, encoded(picture), picture.size, "image/png")
    async with running_indexer(runtime_dir) as indexer:
        await indexer.wait_status(lambda s: s.done >= 1)
        text = await stored_text(real_main, capture_id)
        status = await indexer.get_status()
    words = text["words"]
    assert isinstance(words, list)
    assert set(KNOWN_WORDS) <= {word["text"] for word in words}
    assert str(text["engine"]).startswith("tesseract-5.")
    assert text["failed"] is None
    assert status.done == 1
    assert status.failed == 0
    assert status.per_frame_ms is not None
    assert await backlog(real_main) == []


async def test_a_truncated_image_is_marked_failed(
    real_main: MainProcess, runtime_dir: Path
) -> None:
    """An image the backend accepts but no decoder can read is stored as failed, with the reason."""
    capture_id = await upload(real_main, truncated_webp(), page().size, "image/webp")
    async with running_indexer(runtime_dir) as indexer:
        await indexer.wait_status(lambda s: s.failed >= 1)
        text = await stored_text(real_main, capture_id)
    assert text["words"] == []
    assert "cannot be decoded" in str(text["failed"])
    assert await backlog(real_main) == []  # not retried


async def test_killed_mid_frame_it_reads_the_capture_once_after_a_restart(
    real_main: MainProcess, runtime_dir: Path
) -> None:
    """SIGKILL while a capture is being read: after a restart it is read, and stored once."""
    picture = desktop_image(seed=3)
    capture_id = await upload(real_main, encoded(picture), picture.size, "image/png")
    async with running_indexer(runtime_dir) as first:
        await first.wait_status(lambda s: s.state == "running" and s.current == capture_id)
        await first.kill()
    assert await backlog(real_main) == [capture_id]  # nothing was stored: nothing lost
    async with running_indexer(runtime_dir) as second:
        await second.wait_status(lambda s: s.done >= 1)
        status = await second.get_status()
    text = await stored_text(real_main, capture_id)
    assert len(text["words"]) > 100  # type: ignore[arg-type] # JSON list
    assert status.done == 1
    assert status.failed == 0
    assert await backlog(real_main) == []


async def test_backend_stopped_while_it_works_it_waits_and_resumes(
    real_main: MainProcess, runtime_dir: Path
) -> None:
    """The backend stops mid-frame: the indexer waits for it and stores the text once it is back."""
    picture = desktop_image(seed=5)
    capture_id = await upload(real_main, encoded(picture), picture.size, "image/png")
    async with running_indexer(runtime_dir) as indexer:
        await indexer.wait_status(lambda s: s.state == "running" and s.current == capture_id)
        await real_main.call(MainOps.STOP_BACKEND)
        await indexer.wait_status(lambda s: s.state == "paused" and s.current == capture_id)
        assert (await indexer.get_status()).done == 0
        await real_main.call(MainOps.START_BACKEND)
        await indexer.wait_status(lambda s: s.done >= 1)
    text = await stored_text(real_main, capture_id)
    assert len(text["words"]) > 100  # type: ignore[arg-type] # JSON list
