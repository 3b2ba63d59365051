"""uvicorn on an inherited socket, with the standby/ready hand-shake of the spawn contract
(:mod:`services.foundation.backend_contract`).

Active and standby processes both accept on the one socket main owns (the kernel hands each
connection to whichever process is waiting in ``accept``), so a killed backend costs only the
requests it had in flight: the other is already serving. Promotion only makes the standby the
one main watches as *the* backend.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
from collections.abc import Callable
from typing import Any

import structlog
import uvicorn
from uvicorn.lifespan.on import LifespanOn

from backend.connections import connection_options
from backend.warm_up import warm_up
from services.foundation import gc_pause
from services.foundation.backend_contract import (
    PING_LINE,
    PONG_LINE,
    READY_LINE,
    SERVE_LINE,
    STANDBY_LINE,
    BackendConfig,
)
from services.foundation.supervision.lifeline import watch_pipe

log = structlog.get_logger(__name__)

PARENT_GONE_GRACE = 0.5  # seconds to finish in-flight requests once main is gone


class ContractError(Exception):
    """The spawn environment does not follow :mod:`services.foundation.backend_contract`."""


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
        log.info("app_built")  # a start-up milestone (bench)
        uv_config = uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=max(1, round(config.graceful_timeout)),
            **connection_options(),  # idle and slow connections are closed (backend.connections)
        )
        uv_config.load()
        uv_config.lifespan_class = _lifespan_class(self)
        super().__init__(uv_config)
        self.backend = config
        self.sock = sock
        self._promoted = False

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.run(self.serve(sockets=[self.sock]))

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        if self.backend.control_fd >= 0:
            watch_pipe(self.backend.control_fd, self._on_control, self._on_parent_gone)
        await super().serve(sockets)

    async def after_app_startup(self) -> None:
        """Between the app's startup and the first accept: warm the first request up."""
        await self._warm_up()

    async def _warm_up(self) -> None:
        """One in-process GET /health before serving (:mod:`backend.warm_up`)."""
        await warm_up(self.config.loaded_app, self.backend.port)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Accept on the shared socket; tell main ``ready`` (active) or ``standby``."""
        await super().startup(sockets)
        if self.started:
            self._report(READY_LINE if self.primary else STANDBY_LINE)
            log.info("serving" if self.primary else "standby_serving", port=self.backend.port)
            gc_pause.resume_later(asyncio.get_running_loop())

    @property
    def primary(self) -> bool:
        return self.backend.role == "active" or self._promoted

    def _report(self, line: bytes) -> None:
        if self.backend.ready_fd >= 0:
            try:
                os.write(self.backend.ready_fd, line)
            except OSError:
                self._on_parent_gone()

    def _on_control(self, line: bytes) -> None:
        if line == PING_LINE:
            self._report(PONG_LINE)  # from the event loop: a hung loop never answers
        elif line == SERVE_LINE and not self.primary:
            self._promoted = True
            log.info("promoted")
            if self.started:
                self._report(READY_LINE)

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
