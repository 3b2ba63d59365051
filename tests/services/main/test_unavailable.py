"""main's 503 on the backend's port: at once when no backend serves, never taken from one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from bus.endpoints import LOOPBACK_HOST
from services.main.unavailable import HEAD_TIMEOUT, UnavailableResponder

REQUEST = b"GET /health HTTP/1.1\r\nHost: backend\r\n\r\n"
GAVE_UP = "gave up: the backend crashed more than 5 times in 60 s"


@pytest.fixture
async def sock() -> AsyncIterator[socket.socket]:
    """A listening socket like main's, with no backend accepting on it."""
    with socket.socket() as listening:
        listening.bind((LOOPBACK_HOST, 0))
        listening.listen(16)
        yield listening


@pytest.fixture
async def responder(sock: socket.socket) -> AsyncIterator[UnavailableResponder]:
    responder = UnavailableResponder(sock, start_hold=60.0)
    yield responder
    await responder.aclose()


def url(sock: socket.socket, path: str = "/health") -> str:
    return f"http://{LOOPBACK_HOST}:{sock.getsockname()[1]}{path}"


async def get(sock: socket.socket, path: str = "/health") -> httpx.Response:
    async with httpx.AsyncClient(timeout=5.0) as client:
        return await client.get(url(sock, path))


async def taken_by_backend(sock: socket.socket, sent: bytes = REQUEST) -> None:
    """Accept as a backend would: the connection waited in the backlog with ``sent`` unread."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        conn, _ = await loop.sock_accept(sock)
        with conn:
            conn.setblocking(False)
            assert await loop.sock_recv(conn, len(sent)) == sent


async def send_request(sock: socket.socket) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection(LOOPBACK_HOST, sock.getsockname()[1])
    writer.write(REQUEST)
    await writer.drain()
    return writer


async def test_error_state_answers_503_with_the_envelope(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """After a give-up: 503, Retry-After, no-store, and the backend's error envelope with why."""
    responder.follow("error", GAVE_UP, serving=False)
    answer = await get(sock, "/api/captures")
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "backend_unavailable"
    assert (error["state"], error["reason"]) == ("error", GAVE_UP)
    assert "ctxbus start backend" in error["message"]


async def test_stopped_state_answers_503_stopped(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """After stop_backend: 503 with state stopped, for every request."""
    responder.follow("stopped", "stopped on request", serving=False)
    answers = await asyncio.gather(*(get(sock) for _ in range(5)))
    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"]["state"] for a in answers} == {"stopped"}


async def test_head_request_gets_headers_only(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """A HEAD request gets the 503 status and headers without a body."""
    responder.follow("stopped", None, serving=False)
    async with httpx.AsyncClient(timeout=5.0) as client:
        answer = await client.head(url(sock))
    assert answer.status_code == 503
    assert int(answer.headers["content-length"]) > 0
    assert answer.content == b""


async def test_upload_gets_the_503_not_a_reset(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """A client that sends a 6 MB body before reading gets the 503 (no connection reset)."""
    responder.follow("error", GAVE_UP, serving=False)
    body = b"\0" * (6 << 20)
    head = b"POST /api/captures HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n" % len(body)
    reader, writer = await asyncio.open_connection(LOOPBACK_HOST, sock.getsockname()[1])
    try:
        writer.write(head + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b'"code": "backend_unavailable"' in answer


async def test_starting_leaves_connections_to_the_backend(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """error → starting: main stops accepting at once; the request waits for the backend."""
    responder.follow("error", GAVE_UP, serving=False)
    assert (await get(sock)).status_code == 503
    responder.follow("starting", "start requested", serving=False)
    writer = await send_request(sock)
    try:
        await taken_by_backend(sock)
    finally:
        writer.close()
    assert responder.answering is None


async def test_running_leaves_connections_to_the_backend(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """stopped → running: main answers nothing; the backend gets the connection."""
    responder.follow("stopped", None, serving=False)
    responder.follow("running", None, serving=True)
    writer = await send_request(sock)
    try:
        await taken_by_backend(sock)
    finally:
        writer.close()


async def test_a_serving_process_keeps_main_off_the_port(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """error while a backend still serves (a failed replacement): main does not answer."""
    responder.follow("error", "the replacement did not become ready", serving=True)
    writer = await send_request(sock)
    try:
        await taken_by_backend(sock)
    finally:
        writer.close()


async def test_starting_past_the_hold_answers_503_starting(sock: socket.socket) -> None:
    """A backend starting for longer than start_hold: 503 with state starting and the reason."""
    responder = UnavailableResponder(sock, start_hold=0.05)
    try:
        responder.follow("starting", "crashed (exit code 3); restarting in 0.40 s", serving=False)
        answer = await get(sock)
        responder.follow("starting", "crashed (exit code 3)", serving=False)
        again = await get(sock)
    finally:
        await responder.aclose()
    assert answer.status_code == 503
    assert answer.json()["error"]["state"] == "starting"
    assert "0.05 s" in answer.json()["error"]["message"]
    assert again.json()["error"]["reason"] == "crashed (exit code 3)"


async def test_ready_backend_ends_the_hold(sock: socket.socket) -> None:
    """A backend ready before start_hold is over: the hold is forgotten, main never answers."""
    responder = UnavailableResponder(sock, start_hold=0.0)  # would be over at the next loop turn
    try:
        responder.follow("starting", None, serving=False)
        responder.leave_to_backend()  # ready: main probes it before it says running
        writer = await send_request(sock)  # many loop turns: a live hold timer would fire
        try:
            assert responder.answering is None
            await taken_by_backend(sock)
        finally:
            writer.close()
    finally:
        await responder.aclose()


async def test_silent_client_does_not_block_others(
    sock: socket.socket, responder: UnavailableResponder
) -> None:
    """A client that connects and sends nothing does not delay the next request's 503."""
    responder.follow("stopped", None, serving=False)
    _, silent = await asyncio.open_connection(LOOPBACK_HOST, sock.getsockname()[1])
    try:
        assert (await get(sock)).status_code == 503
    finally:
        silent.close()


async def test_aclose_ends_answers_under_way(sock: socket.socket) -> None:
    """At main's exit, a connection still sending its head is closed, not waited for."""
    responder = UnavailableResponder(sock, start_hold=60.0)
    responder.follow("stopped", None, serving=False)
    reader, writer = await asyncio.open_connection(LOOPBACK_HOST, sock.getsockname()[1])
    writer.write(b"GET / HTTP/1.1\r\n")  # the head never ends
    await writer.drain()
    # Accepted in order: once a later request has its 503, the silent one is being answered.
    assert (await get(sock)).status_code == 503
    async with asyncio.timeout(HEAD_TIMEOUT / 2):
        await responder.aclose()
        assert await reader.read() == b""  # closed without an answer
    writer.close()
