"""The JSON shapes of the backend's HTTP API (responses only; uploads are raw image bodies)."""

from __future__ import annotations

from typing import Literal

import msgspec
from pydantic import BaseModel

from backend.catalog import Capture


class CaptureOut(BaseModel):
    """A stored capture."""

    id: str
    idempotency_key: str
    captured_at: float
    monitor: int
    width: int
    height: int
    content_type: str
    bytes: int
    sha256: str
    created_at: float
    app: str | None = None  # the active window's application, when known
    title: str | None = None
    pid: int | None = None
    process: str | None = None
    image_url: str
    thumbnail_url: str

    @classmethod
    def of(cls, capture: Capture) -> CaptureOut:
        """The API view of a catalog row."""
        base = f"/api/captures/{capture.id}"
        return cls(
            **msgspec.structs.asdict(capture),
            image_url=f"{base}/image",
            thumbnail_url=f"{base}/thumbnail",
        )


class CapturePage(BaseModel):
    """One page of captures, newest first; pass ``next_cursor`` back to get the next page."""

    items: list[CaptureOut]
    next_cursor: str | None


class AppTimeOut(BaseModel):
    """One application's time in a window of time (``app`` null: the window was not known)."""

    app: str | None
    seconds: float
    frames: int


class AppTimes(BaseModel):
    """Time per application in ``[since, until)``, most first, counted from consecutive captures
    (gaps over ``max_gap`` seconds not counted)."""

    since: float
    until: float
    max_gap: float
    apps: list[AppTimeOut]


class Deleted(BaseModel):
    """How many captures a bulk delete removed (rows, images and thumbnails)."""

    deleted: int


class ErrorDetail(BaseModel):
    """What went wrong and what to do about it."""

    code: str
    message: str
    free_bytes: int | None = None  # only with code ``disk_full``


class ErrorOut(BaseModel):
    """Every error response."""

    error: ErrorDetail


class DatabaseHealth(BaseModel):
    ok: bool
    error: str | None = None  # what is wrong when not ok: damage found, or no answer


class StorageHealth(BaseModel):
    ok: bool
    captures: int
    bytes: int
    free_bytes: int


class RetentionHealth(BaseModel):
    ok: bool
    error: str | None = None  # why the last pass failed
    max_age_days: float
    max_bytes: int
    last_run_at: float | None
    last_removed: int
    removed_total: int


class Components(BaseModel):
    database: DatabaseHealth
    storage: StorageHealth
    retention: RetentionHealth


class Liveness(BaseModel):
    """``GET /health`` without the token: whether the backend is alive and well, nothing more."""

    status: Literal["ok", "degraded"]
    service: Literal["ctxbus-backend"]
    version: str


class Health(BaseModel):
    """``GET /health`` with the token: liveness, the reason, and component state."""

    status: Literal["ok", "degraded"]
    reason: str | None = None  # when degraded: which components are not ok, and why
    service: Literal["ctxbus-backend"]
    version: str
    pid: int
    instance: str
    uptime_s: float
    components: Components
