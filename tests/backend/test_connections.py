"""Idle and slow connections are closed (issue 12 §7), so a local program cannot hold the
backend's file descriptors; a normal request is served meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backend.connections import connection_options
from tests.backend.conftest import TOKEN, backend_config, serve_backend

KEEP_ALIVE = 0.5  # seconds: the test's idle limit (production: 5 s)
REQUEST_READ = 1.0  # seconds: the test's limit to read one request (production: 30 s)
CLOSE_DEADLINE = 30.0  # seconds for every connection to be closed on 2 busy cores
IDLE = 200
SLOW = 20

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(port: int, first: bytes = b"") -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if first:
        writer.write(first)
        await writer.drain()
    return reader, writer


async def _closed_by_server(connection: Connection) -> None:
    """Wait for the server to close: end of stream."""
    reader, writer = connection
    while await reader.read(65536):
        pass
    writer.close()


async def test_idle_and_slow_connections_are_closed_and_others_served(tmp_path: Path) -> None:
    """200 silent, 20 slow-head and 20 slow-body connections are all closed; /health answers."""
    options = connection_options(keep_alive=KEEP_ALIVE, request_read=REQUEST_READ)
    async with serve_backend(backend_config(tmp_path), **options) as running:
        port = running.config.port
        head = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
        body_head = (
            f"POST /api/captures HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: image/png\r\n"
            "Content-Length: 100000\r\n\r\n0123456789"
        ).encode()
        connections = [await _open(port) for _ in range(IDLE)]
        connections += [await _open(port, head) for _ in range(SLOW)]
        connections += [await _open(port, body_head) for _ in range(SLOW)]
        response = await running.client.get("/health")
        assert response.status_code == 200
        async with asyncio.timeout(CLOSE_DEADLINE):
            await asyncio.gather(*(_closed_by_server(c) for c in connections))
        assert (await running.client.get("/health")).status_code == 200
