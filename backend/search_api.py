"""``GET /api/search`` (issue 10): full-text search over the text on captures.

``q`` takes words (all must match), ``"phrases"`` and prefixes (``conf*``); see
:mod:`backend.query` for what is refused (a 400 that says what to change) and what is searched
literally. ``app`` keeps the captures of one application (the window-context ``app`` column),
``from``/``to`` a time range (unix seconds, ``from`` inclusive, ``to`` exclusive). Hits come
newest windows first, best first within (see :mod:`backend.search`), each with the capture
record, an HTML snippet with the matches in ``<mark>`` and the matched words' boxes.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from backend.api_docs import error_responses
from backend.errors import BadRequest
from backend.query import parse_query
from backend.runtime import get_backend
from backend.search import MAX_CURSOR_CHARS, SearchRequest, decode_cursor, encode_cursor, search
from backend.text_schemas import SearchHit, SearchResults

DEFAULT_HITS = 20
MAX_HITS = 100
_ERRORS = error_responses(400, 401, 500, 503)

router = APIRouter(prefix="/api", tags=["search"], responses=_ERRORS)


def _time_query(description: str, alias: str) -> Any:
    return Query(ge=0, le=1e11, allow_inf_nan=False, alias=alias, description=description)


@router.get("/search", response_model=SearchResults)
async def search_captures(
    request: Request,
    q: Annotated[str, Query(description='Words, "phrases", prefixes (conf*).')],
    app: Annotated[str | None, Query(max_length=500, description="One application's.")] = None,
    since: Annotated[float | None, _time_query("Earliest captured_at.", "from")] = None,
    until: Annotated[float | None, _time_query("Latest captured_at, exclusive.", "to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HITS)] = DEFAULT_HITS,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
) -> SearchResults:
    """Captures whose text matches ``q``, newest and best first."""
    if since is not None and until is not None and since > until:
        raise BadRequest("invalid_range", f"from ({since}) is after to ({until}); swap them")
    wanted = SearchRequest(
        query=parse_query(q),
        limit=limit,
        app=app,
        since=since,
        until=until,
        cursor=decode_cursor(cursor) if cursor is not None else None,
    )
    page = await get_backend(request).db.read(partial(search, request=wanted))
    next_cursor = encode_cursor(page.next_cursor) if page.next_cursor is not None else None
    return SearchResults(items=[SearchHit.of(hit) for hit in page.hits], next_cursor=next_cursor)
