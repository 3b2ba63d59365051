"""Reading a request body with a limit: never more than ``limit`` bytes are held in memory.

An over-limit body is still read to its end (and thrown away) up to :data:`DRAIN_LIMIT`, so the
client has finished sending when the 413 arrives and sees the response instead of a reset
connection. Bodies declared larger than that are refused at once.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from backend.errors import BadRequest, PayloadTooLarge

DRAIN_LIMIT = 64 * 1024 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or :class:`PayloadTooLarge` if it is over ``limit`` bytes."""
    declared = _content_length(request)
    if declared is not None and declared > DRAIN_LIMIT:
        raise _too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > DRAIN_LIMIT:
                break
            if size <= limit:
                chunks.append(chunk)
    except ClientDisconnect as exc:
        raise BadRequest("client_disconnected", "the body ended early; send it again") from exc
    if size > limit:
        raise _too_large(size, limit)
    return b"".join(chunks)


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest("invalid_content_length", "Content-Length must be a whole number")
    return int(raw)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        "payload_too_large",
        f"the body is {size} bytes, over the limit of {limit} "
        "(CTXBUS_BACKEND_MAX_UPLOAD_BYTES); downscale or re-encode the image",
    )
