"""The captures API (issue 5): upload, list, read, image, thumbnail, delete.

Upload: ``POST /api/captures?captured_at=<unix float>&monitor=<int>&width=<px>&height=<px>`` with
the encoded image as the raw body, ``Content-Type: image/webp|image/png|image/jpeg`` and an
``Idempotency-Key`` header (1-128 visible ASCII characters). 201 with the record when stored,
200 with the same record when the key was already stored (same image), 409 if that key stored a
different image. Optional ``app``, ``title``, ``pid`` and ``process`` describe the active window
when the screen was grabbed; the list filters on ``app`` and on a time range (``since``/``until``,
or their aliases ``from``/``to``), and ``DELETE /api/captures?app=...`` deletes every capture of
one application. ``GET /api/captures/apps?from=&to=&max_gap=`` sums the time per application
(:mod:`backend.app_time`). Every route needs ``Authorization: Bearer <token>``; errors are
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import asyncio
import hashlib
from functools import partial
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from backend.api_docs import error_responses
from backend.app_time import AppTimeQuery, time_by_app
from backend.catalog import (
    Capture,
    PageQuery,
    delete_app,
    delete_one,
    get_capture,
    list_captures,
    record_thumbnail,
)
from backend.errors import (
    ApiError,
    BadRequest,
    StorageDamaged,
    capture_not_found,
    check_capture_id,
)
from backend.images import FORMATS, DeclaredImage, check_media_type, make_thumbnail
from backend.ingest import OnScreen, Upload, ingest
from backend.pagination import MAX_CURSOR_CHARS, decode_cursor, encode_cursor
from backend.runtime import Backend, get_backend
from backend.schemas import AppTimeOut, AppTimes, CaptureOut, CapturePage, Deleted
from backend.uploads import read_body

log = structlog.get_logger(__name__)

DEFAULT_PAGE = 50
MAX_PAGE = 500
DELETE_BATCH = 500  # rows deleted (and files removed) per transaction of a bulk delete
NAME_MAX = 256  # characters of an app or process name
TITLE_MAX = 512
MAX_GAP_HELP = "A longer gap between two captures counts nothing (twice the capture interval)."
IMMUTABLE = "private, max-age=31536000, immutable"
_ERRORS = error_responses(400, 401, 404, 409, 413, 415, 422, 500, 503, 507)
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The encoded image, as is (not multipart).",
        "content": {ct: {"schema": {"type": "string", "format": "binary"}} for ct in FORMATS},
    }
}

router = APIRouter(prefix="/api/captures", tags=["captures"], responses=_ERRORS)

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[!-~]+$",
        description="Unique per frame; a retry with the same key stores nothing twice.",
    ),
]
CaptureId = Annotated[str, Path(description="A capture id (26-character ULID).")]


def _time_query(description: str, alias: str | None = None) -> Any:
    """A unix-seconds query parameter: finite, not before 1970, not past year 5000."""
    return Query(ge=0, le=1e11, allow_inf_nan=False, description=description, alias=alias)


Pixels = Annotated[int, Query(ge=1, le=1_000_000, description="The image's size in pixels.")]
AppName = Annotated[
    str | None,
    Query(min_length=1, max_length=NAME_MAX, description="The active window's application."),
]
Title = Annotated[str | None, Query(max_length=TITLE_MAX, description="The active window's title.")]
Pid = Annotated[int | None, Query(ge=1, le=2**31, description="The active window's process id.")]
ProcessName = Annotated[
    str | None, Query(min_length=1, max_length=NAME_MAX, description="Its process name.")
]


@router.post(
    "",
    status_code=201,
    response_model=CaptureOut,
    responses={200: {"model": CaptureOut, "description": "Already stored under this key."}},
    openapi_extra=_UPLOAD_BODY,
)
async def upload_capture(
    request: Request,
    idempotency_key: IdempotencyKey,
    captured_at: Annotated[float, _time_query("When the screen was grabbed (unix seconds).")],
    monitor: Annotated[int, Query(ge=0, le=1024, description="Monitor index (mss numbering).")],
    width: Pixels,
    height: Pixels,
    app: AppName = None,
    title: Title = None,
    pid: Pid = None,
    process: ProcessName = None,
) -> Response:
    """Store one screenshot (raw image body, metadata in the query) exactly once per key."""
    backend = get_backend(request)
    body = await read_body(request, backend.config.max_upload_bytes)
    if not body:
        raise BadRequest("empty_body", "the request body is empty; send the encoded image")
    media_type = check_media_type(request.headers.get("content-type"))
    upload = Upload(
        idempotency_key,
        captured_at,
        monitor,
        DeclaredImage(media_type, width, height),
        body,
        OnScreen(app=app, title=title, pid=pid, process=process),
    )
    capture, created = await ingest(backend, upload)
    return JSONResponse(
        CaptureOut.of(capture).model_dump(),
        status_code=201 if created else 200,
        headers={"Location": f"/api/captures/{capture.id}"},
    )


@router.get("", response_model=CapturePage)
async def list_captures_page(
    request: Request,
    since: Annotated[float | None, _time_query("Earliest captured_at, inclusive.")] = None,
    until: Annotated[float | None, _time_query("Latest captured_at, exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    app: AppName = None,
    from_: Annotated[float | None, _time_query("Alias of since.", alias="from")] = None,
    to: Annotated[float | None, _time_query("Alias of until.")] = None,
) -> CapturePage:
    """Captures newest first (of one ``app`` if given); follow ``next_cursor`` for older ones."""
    since = since if since is not None else from_
    until = until if until is not None else to
    if since is not None and until is not None and since > until:
        raise BadRequest("invalid_range", f"since ({since}) is after until ({until}); swap them")
    after = decode_cursor(cursor) if cursor is not None else None
    page = PageQuery(limit=limit + 1, since=since, until=until, after=after, app=app)
    rows = await get_backend(request).db.read(partial(list_captures, page=page))
    more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].captured_at, items[-1].id) if more else None
    return CapturePage(items=[CaptureOut.of(c) for c in items], next_cursor=next_cursor)


@router.get("/apps", response_model=AppTimes)
async def app_times(
    request: Request,
    since: Annotated[float, _time_query("Start of the window (unix seconds).", alias="from")],
    until: Annotated[float, _time_query("End of the window, exclusive.", alias="to")],
    max_gap: Annotated[float, Query(gt=0, le=86400, description=MAX_GAP_HELP)] = 10.0,
) -> AppTimes:
    """Seconds per app in ``[from, to)`` from consecutive captures, most first (see app_time)."""
    if since > until:
        raise BadRequest("invalid_range", f"from ({since}) is after to ({until}); swap them")
    query = AppTimeQuery(since=since, until=until, max_gap=max_gap)
    rows = await get_backend(request).db.read(partial(time_by_app, query=query))
    apps = [AppTimeOut(app=row.app, seconds=row.seconds, frames=row.frames) for row in rows]
    return AppTimes(since=since, until=until, max_gap=max_gap, apps=apps)


@router.get("/{capture_id}", response_model=CaptureOut)
async def read_capture(request: Request, capture_id: CaptureId) -> CaptureOut:
    """One capture's record."""
    return CaptureOut.of(await _find(get_backend(request), capture_id))


@router.get("/{capture_id}/image", response_class=Response)
async def read_image(request: Request, capture_id: CaptureId) -> Response:
    """The stored image, as uploaded (checked against its stored size and SHA-256)."""
    backend = get_backend(request)
    capture = await _find(backend, capture_id)
    data = await asyncio.to_thread(_read_intact, backend, capture)
    return _immutable(data, capture.content_type, capture.sha256)


@router.get("/{capture_id}/thumbnail", response_class=Response)
async def read_thumbnail(request: Request, capture_id: CaptureId) -> Response:
    """A small WebP of the capture, made on first request and kept on disk (when there is room)."""
    backend = get_backend(request)
    capture = await _find(backend, capture_id)
    path = backend.store.thumbnail_path(capture.id)
    cached = await asyncio.to_thread(backend.store.read, path)
    if cached is not None:
        return _immutable(cached, "image/webp", capture.sha256)
    data, kept = await backend.images.run(_build_thumbnail, backend, capture)
    if kept:
        await _record_thumbnail(backend, capture, len(data))
    return _immutable(data, "image/webp", capture.sha256)


@router.delete("/{capture_id}", status_code=204, response_class=Response)
async def remove_capture(request: Request, capture_id: CaptureId) -> Response:
    """Delete a capture, its image and its thumbnail; works on a full disk too."""
    backend = get_backend(request)
    check_capture_id(capture_id)
    deleted = await backend.deleter.delete(partial(delete_one, capture_id=capture_id))
    if not deleted:
        raise capture_not_found(capture_id)
    await asyncio.to_thread(backend.reserve.ensure)
    return Response(status_code=204)


@router.delete("", response_model=Deleted)
async def remove_app_captures(
    request: Request,
    app: Annotated[str, Query(min_length=1, max_length=NAME_MAX, description="An application.")],
) -> Deleted:
    """Delete every capture of ``app``: rows, images and thumbnails; works on a full disk too."""
    backend = get_backend(request)
    total = 0
    while True:
        deleted = await backend.deleter.delete(partial(delete_app, app=app, limit=DELETE_BATCH))
        total += len(deleted)
        if len(deleted) < DELETE_BATCH:
            break
    await asyncio.to_thread(backend.reserve.ensure)
    log.info("app_captures_deleted", deleted=total)
    return Deleted(deleted=total)


async def _find(backend: Backend, capture_id: str) -> Capture:
    check_capture_id(capture_id)
    capture = await backend.db.read(partial(get_capture, capture_id=capture_id))
    if capture is None:
        raise capture_not_found(capture_id)
    return capture


def _read_intact(backend: Backend, capture: Capture) -> bytes:
    """The capture's image bytes; 404 if the file is gone, 500 if it is not what was stored."""
    data = backend.store.read(backend.store.image_path(capture.id, capture.content_type))
    if data is None:
        raise capture_not_found(capture.id)
    if len(data) != capture.bytes:
        raise _damaged(capture, f"{len(data)} bytes on disk, {capture.bytes} stored")
    if hashlib.sha256(data).hexdigest() != capture.sha256:
        raise _damaged(capture, "its SHA-256 differs from the one stored")
    return data


def _build_thumbnail(backend: Backend, capture: Capture) -> tuple[bytes, bool]:
    """A fresh thumbnail, and whether it was kept on disk (not on a full disk)."""
    data = make_thumbnail(_read_intact(backend, capture))
    try:
        backend.store.write(backend.store.thumbnail_path(capture.id), data)
    except OSError as exc:
        log.warning("thumbnail_not_cached", id=capture.id, error=str(exc))
        return data, False
    log.info("thumbnail_generated", id=capture.id, bytes=len(data))
    return data, True


async def _record_thumbnail(backend: Backend, capture: Capture, size: int) -> None:
    """Count a cached thumbnail; if that cannot be written, drop the file and serve anyway."""
    try:
        await backend.db.write(partial(record_thumbnail, capture_id=capture.id, size=size))
    except ApiError as exc:
        log.warning("thumbnail_not_counted", id=capture.id, error=exc.message)
        await asyncio.to_thread(backend.store.thumbnail_path(capture.id).unlink, missing_ok=True)


def _damaged(capture: Capture, how: str) -> StorageDamaged:
    log.error("image_damaged", id=capture.id, problem=how)
    return StorageDamaged(
        "storage_damaged",
        f"the stored image of capture {capture.id} is damaged ({how}); delete the capture "
        f"(DELETE /api/captures/{capture.id}) and check the data dir's disk",
    )


def _immutable(data: bytes, media_type: str, digest: str) -> Response:
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{digest[:32]}"'}
    return Response(data, media_type=media_type, headers=headers)
