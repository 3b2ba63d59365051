"""The JSON shapes of the text and search API (issue 10): what the indexer stores, what search
returns. Capture records are :class:`backend.schemas.CaptureOut`, as ``GET /api/captures`` lists.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from backend.schemas import CaptureOut
from backend.search import Hit
from backend.text_catalog import CaptureText, Pending, Word

Coordinate = Annotated[int, Field(ge=0, le=1_000_000)]


class WordIn(BaseModel):
    """One word the OCR engine read, its box in the image's pixels and its confidence."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(max_length=1000)]
    x: Coordinate
    y: Coordinate
    w: Coordinate
    h: Coordinate
    conf: Annotated[float, Field(ge=-1, le=100, allow_inf_nan=False)]


class TextIn(BaseModel):
    """``PUT /api/captures/{id}/text``: an engine's reading of one capture, or why it failed."""

    model_config = ConfigDict(extra="forbid")

    engine: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[!-~]+$")]
    lang: Annotated[str, Field(max_length=100)] = ""
    words: Annotated[list[WordIn], Field(max_length=100_000)] = []
    failed: Annotated[str | None, Field(max_length=1000)] = None


class TextOut(BaseModel):
    """A capture's stored text: its words with boxes, and the words as one text."""

    capture_id: str
    engine: str
    lang: str
    words: list[WordIn]
    text: str
    failed: str | None

    @classmethod
    def of(cls, stored: CaptureText) -> TextOut:
        """The API view of a stored text."""
        return cls(
            capture_id=stored.capture_id,
            engine=stored.engine,
            lang=stored.lang,
            words=[_word(word) for word in stored.words],
            text=stored.text,
            failed=stored.failed,
        )


class BacklogItem(BaseModel):
    """A capture without text yet."""

    id: str
    captured_at: float
    monitor: int
    image_url: str

    @classmethod
    def of(cls, pending: Pending) -> BacklogItem:
        return cls(
            id=pending.capture_id,
            captured_at=pending.captured_at,
            monitor=pending.monitor,
            image_url=f"/api/captures/{pending.capture_id}/image",
        )


class Backlog(BaseModel):
    """``GET /api/captures/backlog``: captures without text, newest first."""

    items: list[BacklogItem]


class Box(BaseModel):
    """A matched word's box, in the image's pixels."""

    x: int
    y: int
    w: int
    h: int
    text: str


class SearchHit(BaseModel):
    """A capture that matched: its record, a snippet (HTML, matches in ``<mark>``, the rest
    escaped) and the boxes of the words that matched."""

    capture: CaptureOut
    snippet: str
    boxes: list[Box]

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        return cls(
            capture=CaptureOut.of(hit.capture),
            snippet=hit.snippet,
            boxes=_boxes(hit),
        )


class SearchResults(BaseModel):
    """``GET /api/search``: hits, best first; pass ``next_cursor`` back for more."""

    items: list[SearchHit]
    next_cursor: str | None


def _word(word: Word) -> WordIn:
    return WordIn(text=word.text, x=word.x, y=word.y, w=word.w, h=word.h, conf=word.conf)


def _boxes(hit: Hit) -> list[Box]:
    return [Box(x=w.x, y=w.y, w=w.w, h=w.h, text=w.text) for w in hit.boxes]
