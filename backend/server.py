"""uvicorn on an inherited socket, with the standby/ready hand-shake of :mod:`backend.contract`."""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import httpx
import structlog
import uvicorn
from uvicorn.lifespan.on import LifespanOn

from backend.contract import READY_LINE, SERVE_LINE, STANDBY_LINE, BackendConfig
from services.supervision.lifeline import watch_pipe

log = structlog.get_logger(__name__)

HEALTH_PATH = "/health"
PARENT_GONE_GRACE = 0.5  # seconds to finish in-flight requests once main is gone


class ContractError(Exception):
    """The spawn environment does not follow :mod:`backend.contract`."""


def load_factory(spec: str) -> Callable[[BackendConfig], Any]:
    """``module:function`` → the app factory."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ContractError(f"app {spec!r} is not of the form module:factory")
    factory: Callable[[BackendConfig], Any] = getattr(importlib.import_module(module_name), attr)
    return factory


class BackendServer(uvicorn.Server):
    """A uvicorn server that reports ``standby``/``ready`` to main and obeys its control pipe."""

    def __init__(self, config: BackendConfig, sock: socket.socket) -> None:
        app = load_factory(config.app)(config)
        uv_config = uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=max(1, round(config.graceful_timeout)),
        )
        uv_config.load()
        uv_config.lifespan_class = _lifespan_class(self)
        super().__init__(uv_config)
        self.backend = config
        self.sock = sock
        self._promoted: asyncio.Future[None] | None = None

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.run(self.serve(sockets=[self.sock]))

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._promoted = asyncio.get_running_loop().create_future()
        if self.backend.role == "active":
            self._promoted.set_result(None)
        if self.backend.control_fd >= 0:
            watch_pipe(self.backend.control_fd, self._on_control, self._on_parent_gone)
        await super().serve(sockets)

    async def after_app_startup(self) -> None:
        """Between the app's startup and the first accept: a standby waits here for ``serve``."""
        assert self._promoted is not None
        await self._warm_up()
        if not self._promoted.done():
            self._report(STANDBY_LINE)
            log.info("standby_waiting")
            await self._promoted
            log.info("promoted")

    async def _warm_up(self) -> None:
        """One in-process GET /health before serving: it builds the middleware stack and loads
        the lazy code paths, so the first real request after a promotion is as quick as any."""
        transport = httpx.ASGITransport(app=self.config.loaded_app)
        base_url = f"http://127.0.0.1:{self.backend.port}"
        try:
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                await client.get(HEALTH_PATH)
        except Exception as exc:  # noqa: BLE001 - a warm-up failure only costs speed
            log.warning("warm_up_failed", error=str(exc))

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._report(READY_LINE)
            log.info("serving", port=self.backend.port, role=self.backend.role)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """A signal: a standby that never served just goes; a server shuts down gracefully."""
        if self._promoted is not None and not self._promoted.done():
            os._exit(0)
        super().handle_exit(sig, frame)

    def _report(self, line: bytes) -> None:
        if self.backend.ready_fd >= 0:
            try:
                os.write(self.backend.ready_fd, line)
            except OSError:
                self._on_parent_gone()

    def _on_control(self, line: bytes) -> None:
        if line == SERVE_LINE and self._promoted is not None and not self._promoted.done():
            self._promoted.set_result(None)

    def _on_parent_gone(self) -> None:
        log.warning("main_gone_exiting")
        self.should_exit = True
        asyncio.get_running_loop().call_later(PARENT_GONE_GRACE, os._exit, 1)


def _lifespan_class(server: BackendServer) -> type[LifespanOn]:
    class _Lifespan(LifespanOn):
        async def startup(self) -> None:
            await super().startup()
            if not self.should_exit:
                await server.after_app_startup()

    return _Lifespan
