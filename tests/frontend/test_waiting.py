"""A frontend still waiting for main: it stops at once when told to, and bad config is permanent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from bus import Endpoints
from services.foundation.exits import EXIT_CONFIG
from services.foundation.supervision import Child, ChildSpec
from tests.fixtures.processes import REPO

REQUEST_SEEN_TIMEOUT = 20.0
PROMPT_EXIT = 3.0  # far below the frontend's 30 s wait for main
REAP_TIMEOUT = 40.0


def frontend_env(runtime_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a frontend whose everything lives under ``runtime_dir``."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CTXBUS_RUNTIME_DIR": str(runtime_dir),
        "CTXBUS_LOG_DIR": str(runtime_dir / "log"),
        "CTXBUS_FRONTEND_PORT": "0",
        **extra,
    }


@pytest.fixture
async def silent_main(runtime_dir: Path) -> AsyncIterator[zmq.asyncio.Socket]:
    """A ROUTER on main's control endpoint that receives requests and never answers."""
    sock = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(Endpoints(runtime_dir).control)
    yield sock
    sock.close()


async def waiting_frontend(runtime_dir: Path, silent_main: zmq.asyncio.Socket) -> Child:
    """A frontend that has sent main its first ``get_port`` (so it is in its wait for main)."""
    spec = ChildSpec(
        name="frontend",
        argv=(sys.executable, "-m", "frontend"),
        env=frontend_env(runtime_dir),
        log_dir=runtime_dir / "log",
        lifeline=True,
    )
    child = await Child.spawn(spec)
    async with asyncio.timeout(REQUEST_SEEN_TIMEOUT):
        await silent_main.recv_multipart()
    return child


async def ended_promptly(child: Child) -> int:
    """The child's exit status, which must come within :data:`PROMPT_EXIT` seconds."""
    try:
        async with asyncio.timeout(PROMPT_EXIT):
            return await child.wait()
    finally:
        if child.running:
            child.kill()
        async with asyncio.timeout(REAP_TIMEOUT):
            await child.reaped()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_while_waiting_for_main_ends_at_once(
    runtime_dir: Path, silent_main: zmq.asyncio.Socket, signum: int
) -> None:
    """SIGTERM or SIGINT during the wait for main ends the frontend at once with status 0."""
    child = await waiting_frontend(runtime_dir, silent_main)
    os.kill(child.pid, signum)
    assert await ended_promptly(child) == 0, "\n".join(child.tail())


async def test_lifeline_cut_while_waiting_for_main_ends_at_once(
    runtime_dir: Path, silent_main: zmq.asyncio.Socket
) -> None:
    """A launcher that dies while the frontend waits for main takes the frontend with it."""
    child = await waiting_frontend(runtime_dir, silent_main)
    child.close_lifeline()
    assert await ended_promptly(child) == 0, "\n".join(child.tail())


async def test_configuration_error_exits_ex_config(runtime_dir: Path) -> None:
    """A bad configuration value ends the frontend with EX_CONFIG (78): never restarted."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "frontend",
        env=frontend_env(runtime_dir, CTXBUS_FRONTEND_PORT="not-a-port"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(REAP_TIMEOUT):
        _, err = await process.communicate()
    assert process.returncode == EXIT_CONFIG, err.decode()
    assert b"frontend.port" in err
