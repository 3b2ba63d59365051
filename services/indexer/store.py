"""The backend's text API as the indexer uses it: the backlog, an image, a capture's text.

``GET /api/captures/backlog?limit=N`` (captures without text, newest first),
``GET /api/captures/{id}/image`` and the idempotent ``PUT /api/captures/{id}/text`` (201 stored,
200 already stored for this engine), all through the one :class:`BackendClient`.

Errors, by what the indexer does next::

    ServiceError
    ├── BackendUnavailable   wait for the backend, then try again (from the BackendClient)
    ├── CaptureGone          the capture was deleted: forget it
    ├── ImageUnreadable      the stored image is damaged: record the capture as failed
    └── TextRejected         the backend refused the text (a contract mismatch): give up on it
"""

from __future__ import annotations

import msgspec
import structlog

from bus import ServiceError
from services.foundation.backend_client import BackendClient, BackendUnavailable
from services.indexer.ocr import Word

log = structlog.get_logger("indexer.store")

CAPTURES = "/api/captures"
DAMAGED = "storage_damaged"  # the backend's error code for an image that is not what was stored


class CaptureGone(ServiceError):
    """The capture no longer exists (deleted, or removed by retention)."""


class ImageUnreadable(ServiceError):
    """The capture's image cannot be read, now or later; the message is the reason."""


class TextRejected(ServiceError):
    """The backend refused the text with a client error other than 404."""


class BacklogItem(msgspec.Struct, frozen=True):
    """One capture without text, as the backlog lists it."""

    id: str
    captured_at: float
    monitor: int
    image_url: str | None = None


class Backlog(msgspec.Struct, frozen=True):
    items: list[BacklogItem]


class CaptureText(msgspec.Struct, frozen=True, omit_defaults=False):
    """The body of ``PUT /api/captures/{id}/text``: the words read, or why there are none."""

    engine: str
    lang: str
    words: list[Word]
    failed: str | None = None


def _code(body: bytes) -> str:
    try:
        error = msgspec.json.decode(body).get("error", {})
        return str(error.get("code", ""))
    except (msgspec.DecodeError, AttributeError):
        return ""


def _unavailable(status: int, what: str) -> BackendUnavailable:
    return BackendUnavailable(f"the backend answered {what} with {status}; trying again later")


class TextStore:
    """The captures' text in the backend."""

    def __init__(self, backend: BackendClient) -> None:
        self.backend = backend
        self._no_backlog_logged = False

    async def backlog(self, limit: int) -> list[BacklogItem]:
        """Up to ``limit`` captures without text, newest first; [] if the backend has none."""
        response = await self.backend.request(
            "GET", f"{CAPTURES}/backlog", params={"limit": str(limit)}
        )
        if response.status_code == 200:
            try:
                return msgspec.json.decode(response.content, type=Backlog).items
            except msgspec.ValidationError as exc:
                raise TextRejected(f"the backlog is not what the contract says: {exc}") from exc
        if response.status_code in (404, 405) and not self._no_backlog_logged:
            self._no_backlog_logged = True  # a backend without the text API: new frames only
            log.warning("no_backlog", status=response.status_code)
        if response.status_code < 500:
            return []
        raise _unavailable(response.status_code, "the backlog")

    async def image(self, capture_id: str) -> bytes:
        """The capture's stored image bytes."""
        response = await self.backend.request("GET", f"{CAPTURES}/{capture_id}/image")
        if response.status_code == 200:
            return response.content
        if response.status_code in (400, 404):
            raise CaptureGone(capture_id)
        if _code(response.content) == DAMAGED:
            raise ImageUnreadable(f"the stored image is damaged (the backend says {DAMAGED})")
        raise _unavailable(response.status_code, "an image")

    async def put(self, capture_id: str, text: CaptureText) -> bool:
        """Store the capture's text (idempotent); whether it was new (201) or already there."""
        response = await self.backend.request(
            "PUT",
            f"{CAPTURES}/{capture_id}/text",
            headers={"Content-Type": "application/json"},
            content=msgspec.json.encode(text),
        )
        if response.status_code in (200, 201):
            return response.status_code == 201
        if response.status_code == 404:
            raise CaptureGone(capture_id)
        if response.status_code < 500 and response.status_code not in (401, 403, 408, 429):
            raise TextRejected(f"{response.status_code}: {response.text[:300]}")
        raise _unavailable(response.status_code, "a text")
