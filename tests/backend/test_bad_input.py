"""Bad uploads and bad parameters get a 4xx with a JSON message, and nothing is stored."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.backend.conftest import (
    Running,
    Serve,
    backend_config,
    encode_image,
    serve_backend,
    upload,
)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def webp_vp8l_claiming(width: int, height: int) -> bytes:
    """A lossless WebP header claiming ``width`` x ``height``, followed by junk."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\0" * 64
    chunk = b"VP8L" + len(payload).to_bytes(4, "little") + payload
    return b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk


def webp_vp8x_hiding(canvas: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """An extended WebP (56 bytes) whose VP8X canvas claims ``canvas`` but whose lossless
    bitstream is ``frame``: the probe's 64 M-pixel image under a 100x100 label."""
    vp8x = (
        b"\0\0\0\0" + (canvas[0] - 1).to_bytes(3, "little") + (canvas[1] - 1).to_bytes(3, "little")
    )
    bits = (frame[0] - 1) | ((frame[1] - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\0" * 13
    chunks = b"VP8X" + len(vp8x).to_bytes(4, "little") + vp8x
    chunks += b"VP8L" + len(payload).to_bytes(4, "little") + payload
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WEBP" + chunks


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One backend for the module's read-only checks: none of them may store anything."""
    async with serve_backend(backend_config(tmp_path_factory.mktemp("bad-input"))) as running:
        yield running


async def assert_nothing_stored(running: Running) -> None:
    """No row and no image file."""
    assert (await running.client.get("/api/captures")).json()["items"] == []
    assert [p for p in running.config.data_dir.glob("images/**/*") if p.is_file()] == []


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    assert response.json()["error"]["message"]
    return code


BAD_IMAGES = [
    pytest.param({"body": b"hello, not an image"}, 422, "invalid_image", id="not-an-image"),
    pytest.param(
        {"body": encode_image("PNG")[:-40], "fmt": "PNG"}, 422, "invalid_image", id="cut-png"
    ),
    pytest.param(
        {"body": encode_image("JPEG")[:200], "fmt": "JPEG"}, 422, "invalid_image", id="cut-jpeg"
    ),
    pytest.param({"body": encode_image("WEBP")[:-30]}, 422, "invalid_image", id="cut-webp"),
    pytest.param(
        {"body": png_claiming(64, 48)[:33] + b"\0" * 10, "fmt": "PNG"},
        422,
        "invalid_image",
        id="broken-png",
    ),
    pytest.param(
        {"body": png_claiming(50_000, 50_000), "fmt": "PNG", "size": (50_000, 50_000)},
        422,
        "too_many_pixels",
        id="declared-bomb",
    ),
    pytest.param(
        {"body": png_claiming(50_000, 50_000), "fmt": "PNG"},
        422,
        "too_many_pixels",
        id="undeclared-bomb",
    ),
    pytest.param(
        {"body": png_claiming(9000, 9000), "fmt": "PNG"}, 422, "too_many_pixels", id="81-mpx"
    ),
    pytest.param(
        {"body": webp_vp8l_claiming(16383, 16383)}, 422, "too_many_pixels", id="webp-bomb"
    ),
    pytest.param(
        {"body": webp_vp8x_hiding((100, 100), (8000, 8000)), "size": (100, 100)},
        422,
        "invalid_image",
        id="webp-canvas-hides-bitstream",
    ),
    pytest.param(
        {"body": webp_vp8x_hiding((8000, 8000), (8000, 8000)), "size": (8000, 8000)},
        422,
        "too_many_pixels",
        id="webp-vp8x-bomb",
    ),
    pytest.param({"body": encode_image("PNG")}, 422, "content_type_mismatch", id="type-mismatch"),
    pytest.param(
        {"body": encode_image("WEBP", (10, 10))}, 422, "dimension_mismatch", id="size-mismatch"
    ),
    pytest.param({"content_type": "text/plain"}, 415, "unsupported_media_type", id="text"),
    pytest.param({"body": b""}, 400, "empty_body", id="empty"),
]


@pytest.mark.parametrize(("kwargs", "status", "code"), BAD_IMAGES)
async def test_bad_image_refused(
    shared: Running, kwargs: dict[str, Any], status: int, code: str
) -> None:
    """Bodies that are not the declared, complete, reasonably sized image are refused."""
    response = await upload(shared.client, "bad", **kwargs)
    assert response.status_code == status, response.text
    assert error_code(response) == code
    await assert_nothing_stored(shared)


async def test_thirty_mebibyte_body_refused(shared: Running) -> None:
    """A 30 MiB body gets 413 (the default limit is 20 MiB) and nothing is kept."""
    response = await upload(shared.client, "big", body=b"\0" * (30 * 1024 * 1024))
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"
    await assert_nothing_stored(shared)


async def test_chunked_body_over_limit_refused(serve: Serve) -> None:
    """A body without Content-Length is cut off at the limit too."""

    async def chunks() -> Any:
        for _ in range(8):
            yield b"\0" * 1024

    async with serve(max_upload_bytes=4096) as running:
        params = {"captured_at": 1.0, "monitor": 0, "width": 1, "height": 1}
        headers = {"Idempotency-Key": "c", "Content-Type": "image/png"}
        response = await running.client.post(
            "/api/captures", params=params, headers=headers, content=chunks()
        )
        assert response.status_code == 413
        await assert_nothing_stored(running)


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {"Idempotency-Key": ""}),
        ({}, {"Idempotency-Key": "k" * 129}),
        ({}, {"Idempotency-Key": "has space"}),
        ({"captured_at": "inf"}, {}),
        ({"captured_at": "nan"}, {}),
        ({"captured_at": "-1"}, {}),
        ({"captured_at": "yesterday"}, {}),
        ({"monitor": "-1"}, {}),
        ({"width": "0"}, {}),
    ],
)
async def test_bad_upload_parameters(
    shared: Running, params: dict[str, str], headers: dict[str, str]
) -> None:
    """Malformed metadata or keys get 400 invalid_parameter."""
    query = {"captured_at": "1.5", "monitor": "1", "width": "64", "height": "48", **params}
    heads = {"Idempotency-Key": "ok", "Content-Type": "image/webp", **headers}
    response = await shared.client.post(
        "/api/captures", params=query, headers=heads, content=encode_image()
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "invalid_parameter"
    await assert_nothing_stored(shared)


async def test_missing_idempotency_key(shared: Running) -> None:
    """An upload without Idempotency-Key is a 400 naming the header."""
    query = {"captured_at": "1.5", "monitor": "1", "width": "64", "height": "48"}
    response = await shared.client.post(
        "/api/captures", params=query, headers={"Content-Type": "image/webp"}, content=b"x"
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("capture_id", "status"),
    [
        ("nope", 400),
        ("01arz3ndektsv4rrffq69g5fav", 400),
        ("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", 400),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAVX", 400),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", 404),
        ("..%2F..%2Fetc%2Fpasswd", 404),
    ],
)
async def test_odd_ids(shared: Running, capture_id: str, status: int) -> None:
    """Malformed ids get 400, unknown ones 404, on every per-capture route."""
    for suffix in ("", "/image", "/thumbnail"):
        response = await shared.client.get(f"/api/captures/{capture_id}{suffix}")
        assert response.status_code == status, (suffix, response.text)
        assert error_code(response)
    assert (await shared.client.delete(f"/api/captures/{capture_id}")).status_code == status


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "AAAA",
        _b64("1|zz|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        _b64("2|0x1.0p+0|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        _b64("1|inf|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        _b64("1|0x1.0p+0|../../etc"),
        "A" * 200,
    ],
)
async def test_bad_cursor(shared: Running, cursor: str) -> None:
    """A cursor the server did not issue gets 400 invalid_cursor."""
    response = await shared.client.get("/api/captures", params={"cursor": cursor})
    assert response.status_code == 400
    assert error_code(response) in ("invalid_cursor", "invalid_parameter")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"since": "10", "until": "5"}, "invalid_range"),
        ({"since": "-1"}, "invalid_parameter"),
        ({"until": "nan"}, "invalid_parameter"),
        ({"since": "soon"}, "invalid_parameter"),
        ({"limit": "0"}, "invalid_parameter"),
        ({"limit": "501"}, "invalid_parameter"),
        ({"limit": "ten"}, "invalid_parameter"),
    ],
)
async def test_bad_ranges(shared: Running, params: dict[str, str], code: str) -> None:
    """Bad time ranges and limits get 400 with a message."""
    response = await shared.client.get("/api/captures", params=params)
    assert response.status_code == 400
    assert error_code(response) == code


async def test_unwritable_storage_is_a_retryable_503(serve: Serve) -> None:
    """When the image cannot be written, the upload gets 503 with Retry-After and no row."""
    async with serve() as running:
        (running.config.data_dir / "images").write_text("in the way")
        response = await upload(running.client, "k")
        assert response.status_code == 503
        assert error_code(response) == "storage_failed"
        assert response.headers["retry-after"] == "1"
        assert (await running.client.get("/api/captures")).json()["items"] == []
