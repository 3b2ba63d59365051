"""The captures API: upload round trip, reads, thumbnail cache, delete, pagination."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from tests.backend.conftest import Running, Serve, encode_image, upload


async def test_upload_round_trip(running: Running) -> None:
    """A new key stores once (201); the same key again returns the same record (200)."""
    first = await upload(running.client, "frame-1", captured_at=1_700_000_000.5, monitor=2)
    assert first.status_code == 201
    record = first.json()
    assert first.headers["location"] == f"/api/captures/{record['id']}"
    assert record["captured_at"] == 1_700_000_000.5
    assert record["monitor"] == 2
    assert (record["width"], record["height"]) == (64, 48)
    assert record["content_type"] == "image/webp"
    assert record["idempotency_key"] == "frame-1"
    again = await upload(running.client, "frame-1", captured_at=1_700_000_000.5, monitor=2)
    assert again.status_code == 200
    assert again.json() == record
    listed = (await running.client.get("/api/captures")).json()
    assert [item["id"] for item in listed["items"]] == [record["id"]]
    assert listed["next_cursor"] is None


async def test_record_and_image_read_back(running: Running) -> None:
    """GET by id returns the record; /image returns the exact bytes uploaded."""
    body = encode_image("PNG", (30, 20))
    record = (await upload(running.client, "k", body=body, fmt="PNG", size=(30, 20))).json()
    got = await running.client.get(f"/api/captures/{record['id']}")
    assert got.json() == record
    image = await running.client.get(record["image_url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == body


async def test_all_three_formats_accepted(running: Running) -> None:
    """WebP, PNG and JPEG uploads are stored with their content type."""
    for fmt, content_type in (("WEBP", "image/webp"), ("PNG", "image/png"), ("JPEG", "image/jpeg")):
        response = await upload(running.client, f"key-{fmt}", fmt=fmt)
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == content_type


async def test_same_key_different_image_conflicts(running: Running) -> None:
    """Reusing a key for a different image is a 409, and the first record stays."""
    assert (await upload(running.client, "dup", size=(10, 10))).status_code == 201
    response = await upload(running.client, "dup", size=(12, 10))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert len((await running.client.get("/api/captures")).json()["items"]) == 1


async def test_concurrent_same_key_stores_once(running: Running) -> None:
    """Ten simultaneous uploads with one key store one row and one file."""
    body = encode_image()
    responses = await asyncio.gather(
        *(upload(running.client, "same", body=body) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len((await running.client.get("/api/captures")).json()["items"]) == 1
    files = [p for p in running.config.data_dir.glob("images/*/*") if p.is_file()]
    assert len(files) == 1


async def test_two_backends_on_one_data_dir_store_once(running: Running, serve: Serve) -> None:
    """Two backend apps sharing a data dir (active + standby) store a key once between them."""
    body = encode_image()
    async with serve() as other:
        responses = await asyncio.gather(
            *(upload(c, "shared", body=body) for c in (running.client, other.client) * 4)
        )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len((await running.client.get("/api/captures")).json()["items"]) == 1


async def test_thumbnail_generated_once_and_cached(running: Running) -> None:
    """The first thumbnail request writes a small WebP to disk; later ones serve that file."""
    record = (await upload(running.client, "t", fmt="PNG", size=(1000, 500))).json()
    first = await running.client.get(record["thumbnail_url"])
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(first.content)) as thumb:
        assert thumb.size == (320, 160)
    path = running.backend.store.thumbnail_path(record["id"])
    before = path.stat()
    second = await running.client.get(record["thumbnail_url"])
    after = path.stat()
    assert second.content == first.content
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    storage = (await running.client.get("/health")).json()["components"]["storage"]
    assert storage["bytes"] == record["bytes"] + len(first.content)  # counted against the budget


async def test_delete_removes_row_image_and_thumbnail(running: Running) -> None:
    """DELETE answers 204 and the record, image and thumbnail are gone; again it is 404."""
    record = (await upload(running.client, "d")).json()
    await running.client.get(record["thumbnail_url"])
    store = running.backend.store
    image_path = store.image_path(record["id"], record["content_type"])
    thumb_path = store.thumbnail_path(record["id"])
    assert image_path.exists()
    assert thumb_path.exists()
    assert (await running.client.delete(f"/api/captures/{record['id']}")).status_code == 204
    assert not image_path.exists()
    assert not thumb_path.exists()
    for url in (f"/api/captures/{record['id']}", record["image_url"], record["thumbnail_url"]):
        assert (await running.client.get(url)).status_code == 404
    assert (await running.client.delete(f"/api/captures/{record['id']}")).status_code == 404
    health = (await running.client.get("/health")).json()
    assert health["components"]["storage"]["captures"] == 0


async def test_health_counts_stored_bytes(running: Running) -> None:
    """/health storage shows the captures and bytes stored."""
    body = encode_image()
    await upload(running.client, "a", body=body)
    await upload(running.client, "b", body=body)
    storage = (await running.client.get("/health")).json()["components"]["storage"]
    assert storage["captures"] == 2
    assert storage["bytes"] == 2 * len(body)


async def test_openapi_documents_the_upload(running: Running) -> None:
    """The OpenAPI schema names the upload's query parameters, key header and image body."""
    schema = (await running.client.get("/openapi.json")).json()
    post = schema["paths"]["/api/captures"]["post"]
    names = {p["name"] for p in post["parameters"]}
    assert {"captured_at", "monitor", "width", "height", "Idempotency-Key"} <= names
    assert set(post["requestBody"]["content"]) == {"image/webp", "image/png", "image/jpeg"}
    assert {"200", "201", "409", "413", "422"} <= set(post["responses"])


async def test_damaged_image_is_an_error_never_cached(running: Running) -> None:
    """A stored image cut short or changed is a 500 storage_damaged without cache headers."""
    record = (await upload(running.client, "cut", fmt="PNG")).json()
    path = running.backend.store.image_path(record["id"], record["content_type"])
    original = path.read_bytes()
    for damaged in (original[:40], original[:-1] + bytes([original[-1] ^ 1])):
        path.write_bytes(damaged)
        for url in (record["image_url"], record["thumbnail_url"]):
            response = await running.client.get(url)
            assert response.status_code == 500, response.text
            assert response.json()["error"]["code"] == "storage_damaged"
            assert "immutable" not in response.headers.get("cache-control", "")
            assert "etag" not in response.headers
    path.write_bytes(original)
    assert (await running.client.get(record["image_url"])).content == original
