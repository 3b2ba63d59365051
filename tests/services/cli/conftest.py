"""Running the real ``ctxbus`` command (``python -m services.cli``) against a test's runtime dir."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from bus import Endpoints
from bus import endpoints as names
from tests.fixtures.processes import REPO

COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def cli_env(runtime_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``ctxbus`` run confined to ``runtime_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTXBUS_")}
    env.update(
        PYTHONPATH=str(REPO),
        CTXBUS_RUNTIME_DIR=str(runtime_dir),
        CTXBUS_LOG_DIR=str(runtime_dir / "log"),
        CTXBUS_DATA_DIR=str(runtime_dir / "data"),
        XDG_CONFIG_HOME=str(runtime_dir / "config"),  # no user config file
    )
    env.update(extra or {})
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", *args]


async def ctxbus(runtime_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> Ran:
    """Run ``ctxbus *args`` to completion."""
    proc = await asyncio.create_subprocess_exec(
        *cli_argv(*args),
        env=cli_env(runtime_dir, env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(COMMAND_TIMEOUT):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


class Heartbeats:
    """Counts ``main.heartbeat`` events; lets a test wait for the next ones."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.count = 0
        self._changed = asyncio.Condition()
        self._sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoints.events)
        self._sock.subscribe(names.MAIN_HEARTBEAT.encode())
        self._task = asyncio.ensure_future(self._count())

    async def _count(self) -> None:
        while True:
            await self._sock.recv_multipart()
            async with self._changed:
                self.count += 1
                self._changed.notify_all()

    async def wait(self, beats: int, timeout: float = 10.0) -> None:
        """Return after ``beats`` more heartbeats (main's 1 s clock, not a sleep)."""
        target = self.count + beats
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.count >= target)

    def close(self) -> None:
        self._task.cancel()
        self._sock.close(linger=0)


@pytest.fixture
def heartbeats(endpoints: Endpoints) -> Iterator[Heartbeats]:
    """A heartbeat counter on the test's bus, subscribed before the test acts."""
    beats = Heartbeats(endpoints)
    yield beats
    beats.close()
