"""Serve the real backend app with real uvicorn on 127.0.0.1, port 0, and talk HTTP to it."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from PIL import Image

from backend.app import BackendApp, create_app
from backend.runtime import Backend
from services.foundation.backend_contract import BackendConfig

TOKEN = "test-token-0123456789"
START_TIMEOUT_S = 10.0


@dataclass
class Running:
    """A backend being served, and a client that talks to it with the token."""

    app: BackendApp
    config: BackendConfig
    client: httpx.AsyncClient
    base_url: str

    @property
    def backend(self) -> Backend:
        """The live backend state (database, store, maintenance)."""
        backend = self.app.backend
        assert backend is not None, "served without its lifespan"
        return backend


Serve = Callable[..., AbstractAsyncContextManager[Running]]


def backend_config(root: Path, **overrides: Any) -> BackendConfig:
    """A backend config with its dirs under ``root``; port 0 until served."""
    values: dict[str, Any] = {
        "port": 0,
        "token": TOKEN,
        "instance": "test-instance",
        "data_dir": root / "data",
        "log_dir": root / "log",
        "retention_interval": 3600.0,
    }
    return BackendConfig(**(values | overrides))


@asynccontextmanager
async def serve_backend(config: BackendConfig, **uvicorn_options: Any) -> AsyncIterator[Running]:
    """Serve ``create_app(config)`` on a fresh 127.0.0.1 port until the block ends (with
    ``uvicorn_options`` added to uvicorn's config)."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP (else +40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = msgspec.structs.replace(config, port=port)
        app = create_app(config)
        async with _serving(app, sock, uvicorn_options):
            base_url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
                yield Running(app, config, client, base_url)
    finally:
        sock.close()


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """``async with serve(**overrides) as running:`` serves the app until the block ends."""

    def _serve(**overrides: Any) -> AbstractAsyncContextManager[Running]:
        return serve_backend(backend_config(tmp_path, **overrides))

    return _serve


class _Server(uvicorn.Server):
    """uvicorn that says when its startup (lifespan included) is complete, and stops at once
    when told instead of at its next 0.1 s tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the Date header once
        await self.stop.wait()


@asynccontextmanager
async def _serving(
    app: BackendApp, sock: socket.socket, options: dict[str, Any]
) -> AsyncIterator[None]:
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, **options)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(server.ready.wait())
    async with asyncio.timeout(START_TIMEOUT_S):
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if task.done():
        task.result()
        raise RuntimeError("the backend stopped during startup")
    try:
        yield
    finally:
        server.should_exit = True
        server.stop.set()
        await task


@pytest.fixture
async def running(serve: Serve) -> AsyncIterator[Running]:
    """The backend with default settings."""
    async with serve() as running:
        yield running


def encode_image(
    fmt: str = "WEBP", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A small real image in ``fmt``."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


CONTENT_TYPES = {"WEBP": "image/webp", "PNG": "image/png", "JPEG": "image/jpeg"}


async def upload(
    client: httpx.AsyncClient,
    key: str,
    *,
    body: bytes | None = None,
    fmt: str = "WEBP",
    size: tuple[int, int] = (64, 48),
    captured_at: float | None = None,
    monitor: int = 1,
    content_type: str | None = None,
) -> httpx.Response:
    """POST one capture the way the capture process does."""
    data = encode_image(fmt, size) if body is None else body
    params = {
        "captured_at": time.time() if captured_at is None else captured_at,
        "monitor": monitor,
        "width": size[0],
        "height": size[1],
    }
    headers = {
        "Idempotency-Key": key,
        "Content-Type": content_type or CONTENT_TYPES[fmt],
    }
    return await client.post("/api/captures", params=params, headers=headers, content=data)
