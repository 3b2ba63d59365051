"""Running the real ``ctxbus`` command (``python -m services.cli``) against a test's runtime dir."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bus import Endpoints, Heartbeat
from bus import endpoints as names
from tests.fixtures.processes import REPO
from tests.fixtures.recorder import TopicRecorder

COMMAND_TIMEOUT = 30.0

Heartbeats = TopicRecorder[Heartbeat]


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


@pytest.fixture
def heartbeats(endpoints: Endpoints) -> Iterator[Heartbeats]:
    """``main.heartbeat`` events on the test's bus, recorded from before the test acts.

    ``await heartbeats.next(2)`` waits for two more: main's 1 s clock, not a sleep.
    """
    beats = TopicRecorder(endpoints, names.MAIN_HEARTBEAT, Heartbeat, timeout=10.0)
    yield beats
    beats.close()
