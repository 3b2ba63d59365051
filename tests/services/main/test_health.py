"""main's /health probe: liveness from the status line, the backend's verdict from the body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from bus.endpoints import LOOPBACK_HOST
from services.main.health import BackendHealth, HealthProbe

TIMEOUT = 5.0  # the probe's own bound; every answer here comes at once
DEGRADED = {"status": "degraded", "reason": "database: damaged: malformed", "pid": 7}


def answer(status: str, body: bytes, headers: str | None = None) -> bytes:
    """A whole HTTP/1.1 response, with a Content-Length unless ``headers`` replace it."""
    head = headers if headers is not None else f"content-length: {len(body)}\r\n"
    return f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{head}\r\n".encode() + body


@asynccontextmanager
async def serving(
    response: bytes, token: str | None = None, heads: list[bytes] | None = None
) -> AsyncIterator[HealthProbe]:
    """A real TCP server on loopback that answers every request with ``response``; the request
    heads it read go to ``heads``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if heads is not None:
            heads.append(head)
        writer.write(response)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, LOOPBACK_HOST, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield HealthProbe(LOOPBACK_HOST, port, TIMEOUT, token=token)


async def test_degraded_body_is_kept() -> None:
    """A 200 saying degraded is alive, and its status and reason are kept (the rest ignored)."""
    async with serving(answer("200 OK", json.dumps(DEGRADED).encode())) as probe:
        assert await probe.check() is True
    assert probe.last == BackendHealth("degraded", "database: damaged: malformed")


async def test_the_probe_sends_the_token() -> None:
    """With main's token, the probe asks for the details only the token gets (the reason)."""
    heads: list[bytes] = []
    async with serving(answer("200 OK", b'{"status": "ok"}'), "tok-123", heads) as probe:
        assert await probe.check() is True
    assert b"\r\nAuthorization: Bearer tok-123\r\n" in heads[0]


@pytest.mark.parametrize(
    "response",
    [
        answer("200 OK", b"<html>not json</html>"),
        answer("200 OK", b'{"status": "confused"}'),
        answer("200 OK", b'{"status": "ok"}', headers="transfer-encoding: chunked\r\n"),
    ],
    ids=["not-json", "unknown-status", "no-length"],
)
async def test_unreadable_body_still_answers(response: bytes) -> None:
    """A 200 whose body cannot be read counts as alive, with no verdict."""
    async with serving(response) as probe:
        assert await probe.check() is True
    assert probe.last is None


async def test_error_status_is_a_miss() -> None:
    """A 503 (main's own stand-in answer, say) is not an answer of the backend's."""
    async with serving(answer("503 Service Unavailable", json.dumps(DEGRADED).encode())) as probe:
        assert await probe.check() is False
    assert probe.last is None


async def test_news_only_when_the_verdict_changes() -> None:
    """News: a first verdict, ok ↔ degraded, another component; not a reason's new figures."""
    async with serving(answer("200 OK", json.dumps(DEGRADED).encode())) as probe:
        assert await probe.check()
    assert probe.news()
    assert probe.publishing(running=True) == probe.last
    assert not probe.news()
    low = BackendHealth("degraded", "storage: 12.0 MB free, under 256 MB")
    lower = BackendHealth("degraded", "storage: 11.5 MB free, under 256 MB")
    both = BackendHealth("degraded", "database: damaged: x; storage: 11.5 MB free, under 256 MB")
    news: Callable[[BackendHealth, BackendHealth | None], bool] = BackendHealth.news_after
    assert not news(lower, low)
    assert news(both, low)
    assert news(BackendHealth("ok"), low)
    assert news(low, None)
    assert probe.publishing(running=False) is None
    assert probe.news(), "after a non-running event the verdict is news again"
