"""The dashboard's ``/api/*`` proxy: the browser's request to the backend, with the bearer token.

- The path is the raw request path percent-decoded once, dot segments resolved; it must stay
  under ``/api/`` (else 404), and an encoded slash or backslash, a control character (NUL) or
  bad UTF-8 is refused (400): no request reaches a backend route outside the API.
- The request body is streamed to the backend, never held whole: a ``Content-Length`` over the
  backend's upload limit gets 413 before a byte is read, and a chunked body is cut at the limit
  (413).
- The headers the backend's API reads are forwarded (:data:`FORWARDED_REQUEST_HEADERS`), and the
  response streams back with the headers a browser needs.

Refusals carry the backend's error envelope, ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import httpx
import structlog
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from services.foundation.backend_client import BackendClient, BackendUnavailable, Body

log = structlog.get_logger("frontend.proxy")

API_PREFIX = "/api/"
FORWARDED_REQUEST_HEADERS = (
    "accept",
    "content-type",
    "content-length",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-range",
    "range",
)
FORWARDED_RESPONSE_HEADERS = (
    "accept-ranges",
    "cache-control",
    "content-disposition",
    "content-range",
    "content-type",
    "etag",
    "last-modified",
    "location",
    "retry-after",
)
ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
PATH_SAFE = "/:@!$&'()*+,;=-._~"  # what stays unquoted in the forwarded path (RFC 3986 pchar)


class ProxyRefusal(Exception):
    """A request the proxy does not pass on: its status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message}}
        return JSONResponse(body, status_code=self.status)


def backend_path(raw_path: bytes) -> str:
    """The backend path for a raw request path, or :class:`ProxyRefusal`."""
    try:
        text = raw_path.split(b"?", 1)[0].decode("ascii")
        decoded = unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise ProxyRefusal(400, "invalid_path", "the path is not valid UTF-8") from None
    if ENCODED_SEPARATOR.search(text) or "\\" in decoded:
        raise ProxyRefusal(400, "invalid_path", "the path holds an encoded slash or a backslash")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        raise ProxyRefusal(400, "invalid_path", "the path holds a control character")
    resolved = _resolve_dots(decoded)
    if not resolved.startswith(API_PREFIX):
        raise ProxyRefusal(404, "not_found", f"only {API_PREFIX}... is proxied to the backend")
    return quote(resolved, safe=PATH_SAFE)


def _resolve_dots(path: str) -> str:
    """``path`` with its ``.`` and ``..`` segments resolved (RFC 3986 §5.2.4)."""
    kept: list[str] = []
    segments = path.split("/")[1:]
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    trailing = "/" if segments and segments[-1] in {".", ".."} else ""
    return "/" + "/".join(kept) + trailing


def request_body(request: Request, limit: int) -> Body:
    """The body to send on: None without one, else the stream, cut at ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ProxyRefusal(400, "invalid_content_length", "Content-Length must be a number")
        if int(declared) > limit:
            raise _too_large(limit)
        if int(declared) == 0:
            return None
    elif "transfer-encoding" not in request.headers:
        return None
    return _limited(request.stream(), limit)


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        yield chunk


def _too_large(limit: int) -> ProxyRefusal:
    message = f"the body is over the backend's limit of {limit} bytes"
    return ProxyRefusal(413, "payload_too_large", message)


async def proxy(backend: BackendClient, request: Request, limit: int) -> Response:
    """Pass ``request`` on to the backend and stream its answer back."""
    try:
        path = backend_path(request.scope.get("raw_path") or request.url.path.encode())
        url = f"{path}?{request.url.query}" if request.url.query else path
        headers = {
            name: request.headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in request.headers
        }
        content = request_body(request, limit)
        answer = await backend.request(
            request.method, url, headers=headers, content=content, stream=True
        )
    except ProxyRefusal as refusal:
        return refusal.response()
    except httpx.InvalidURL as exc:
        return ProxyRefusal(400, "invalid_path", str(exc)).response()
    except BackendUnavailable as exc:
        return JSONResponse({"detail": str(exc)}, status_code=502)
    return _streamed(answer)


def _streamed(answer: httpx.Response) -> StreamingResponse:
    kept = {
        name: answer.headers[name] for name in FORWARDED_RESPONSE_HEADERS if name in answer.headers
    }
    if "content-length" in answer.headers and "content-encoding" not in answer.headers:
        kept["content-length"] = answer.headers["content-length"]
    return StreamingResponse(
        _chunks(answer),
        status_code=answer.status_code,
        headers=kept,
        background=BackgroundTask(answer.aclose),
    )


async def _chunks(answer: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.aiter_bytes():
            yield chunk
    except httpx.HTTPError as exc:  # the backend went away mid-answer: the browser sees it cut
        log.warning("proxy_answer_cut", error=str(exc))
    finally:
        await answer.aclose()
