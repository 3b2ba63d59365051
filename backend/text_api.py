"""The text API (issue 10): what the indexer stores and reads back, and its backlog.

``PUT /api/captures/{id}/text`` with a JSON :class:`backend.text_schemas.TextIn` (at most
:data:`MAX_TEXT_BYTES`): 201 when stored, 200 with the stored text when the same engine's text
was already stored (nothing changes; another engine's replaces it), 404 for an unknown capture.
``failed`` set marks the capture failed with that reason: it leaves the backlog for good.
``GET /api/captures/{id}/text``: the stored text, 404 without one. ``GET /api/captures/backlog``:
captures without text (and not failed), newest first.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from backend.api_docs import error_responses
from backend.errors import BadRequest, NotFound, capture_not_found, check_capture_id
from backend.runtime import get_backend
from backend.text_catalog import CaptureText, Word, backlog, read_text, store_text
from backend.text_schemas import Backlog, BacklogItem, TextIn, TextOut
from backend.uploads import read_body

MAX_TEXT_BYTES = 2 * 1024 * 1024
DEFAULT_BACKLOG = 50
MAX_BACKLOG = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ERRORS = error_responses(400, 401, 404, 413, 500, 503, 507)

router = APIRouter(prefix="/api/captures", tags=["text"], responses=_ERRORS)
CaptureId = Annotated[str, Path(description="A capture id (26-character ULID).")]


@router.get("/backlog", response_model=Backlog)
async def read_backlog(
    request: Request, limit: Annotated[int, Query(ge=1, le=MAX_BACKLOG)] = DEFAULT_BACKLOG
) -> Backlog:
    """Captures without text that the indexer should read, newest first."""
    pending = await get_backend(request).db.read(partial(backlog, limit=limit))
    return Backlog(items=[BacklogItem.of(p) for p in pending])


@router.put(
    "/{capture_id}/text",
    status_code=201,
    response_model=TextOut,
    responses={200: {"model": TextOut, "description": "This engine's text was already stored."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TextIn.model_json_schema()}},
        }
    },
)
async def put_text(request: Request, capture_id: CaptureId) -> JSONResponse:
    """Store an engine's text of a capture, once per engine version."""
    check_capture_id(capture_id)
    backend = get_backend(request)
    body = await read_body(request, MAX_TEXT_BYTES)
    text = _parse(capture_id, body)
    stored = await backend.db.write(partial(store_text, text=text))
    if stored is None:
        raise capture_not_found(capture_id)
    out = TextOut.of(stored.text).model_dump()
    return JSONResponse(out, status_code=201 if stored.created else 200)


@router.get("/{capture_id}/text", response_model=TextOut)
async def get_text(request: Request, capture_id: CaptureId) -> TextOut:
    """The text stored for a capture (its words with boxes, and as one text)."""
    check_capture_id(capture_id)
    stored = await get_backend(request).db.read(partial(read_text, capture_id=capture_id))
    if stored is None:
        raise NotFound(
            "no_text",
            f"no text is stored for capture {capture_id}: it does not exist, or the indexer "
            "has not read it yet (see GET /api/captures/backlog)",
        )
    return TextOut.of(stored)


def _parse(capture_id: str, body: bytes) -> CaptureText:
    try:
        given = TextIn.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{' '.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise BadRequest(
            "invalid_text",
            f"the body is not a text to store ({problems}); send JSON "
            '{"engine", "lang", "words": [{"text", "x", "y", "w", "h", "conf"}], "failed"}',
        ) from exc
    words = [
        Word(_CONTROL.sub(" ", w.text).strip(), w.x, w.y, w.w, w.h, w.conf) for w in given.words
    ]
    return CaptureText(capture_id, given.engine, given.lang, words, given.failed)
