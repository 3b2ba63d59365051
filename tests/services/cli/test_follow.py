"""`ctxbus status --follow --json` in a subprocess while the backend is SIGKILLed repeatedly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bus import BackendStatus
from bus import endpoints as names
from tests.fixtures.processes import MainProcess, running_main
from tests.fixtures.recorder import Recorder
from tests.services.cli.conftest import COMMAND_TIMEOUT, Heartbeats, cli_argv, cli_env

KILLS = 10
Line = dict[str, Any]


class Lines(Recorder[Line]):
    """Every JSON line a subprocess prints, parsed, in order."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        super().__init__("printed line")
        self._task = asyncio.ensure_future(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.add(json.loads(line))

    async def finish(self) -> None:
        await self._task


def replaced(victim: int) -> Callable[[BackendStatus], bool]:
    """Matches the ``running`` event of a backend other than ``victim``."""
    return lambda event: event.state == "running" and event.pid != victim


def backend_event(line: Line) -> bool:
    return line["topic"] == names.BACKEND_STATUS and line["event"] is not None


async def test_follow_sees_every_transition_once(
    runtime_dir: Path, main_process: MainProcess, heartbeats: Heartbeats
) -> None:
    """Ten backend SIGKILLs: each transition is printed exactly once, seq strictly increasing."""
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("status", "--follow", "--json"),
        env=cli_env(runtime_dir),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines = Lines(proc.stdout)
    await lines.wait_for(backend_event)  # following before the first kill
    for _ in range(KILLS):
        victim = (await main_process.status()).pid
        assert victim is not None
        after = len(main_process.log.events)
        os.kill(victim, signal.SIGKILL)
        await main_process.log.wait_for(replaced(victim), after=after)
        # main's policy counts a backend killed within 1 s of `running` as crash-looping;
        # two heartbeats (main's own 1 s clock) keep these kills "after a healthy run".
        await heartbeats.next(2)
    last = (await main_process.status()).seq
    await lines.wait_for(lambda line: backend_event(line) and line["event"]["seq"] == last)
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await proc.wait() == 0
    await lines.finish()

    backend = [line for line in lines.items if line["topic"] == names.BACKEND_STATUS]
    assert [line["kind"] for line in backend] == ["snapshot"] + ["event"] * (len(backend) - 1)
    seqs = [line["event"]["seq"] for line in backend]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "strictly increasing, no gap"
    published = [(e.seq, e.state, e.pid) for e in main_process.log.events if e.seq > seqs[0]]
    printed = [
        (line["event"]["seq"], line["event"]["state"], line["event"]["pid"]) for line in backend[1:]
    ]
    assert printed == published, "every transition exactly once"
    running_pids = {pid for _, state, pid in printed if state == "running"}
    assert len(running_pids) >= KILLS


async def test_follow_says_when_main_goes_and_comes_back(runtime_dir: Path) -> None:
    """main stops: a `lost` line (no heartbeat for 3 s); a new main: `back`, then its state."""
    async with running_main(runtime_dir) as first:
        proc = await asyncio.create_subprocess_exec(
            *cli_argv("status", "--follow", "--json"),
            env=cli_env(runtime_dir),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        lines = Lines(proc.stdout)
        await lines.wait_for(backend_event)
        old = (await first.status()).instance
    await lines.wait_for(lambda line: line["kind"] == "lost")
    async with running_main(runtime_dir) as second:
        new = (await second.status()).instance
        assert new != old
        await lines.wait_for(lambda line: line["kind"] == "back")
        await lines.wait_for(
            lambda line: (
                backend_event(line)
                and line["event"]["instance"] == new
                and line["event"]["state"] == "running"
            )
        )
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await proc.wait() == 0
    await lines.finish()
    kinds = [line["kind"] for line in lines.items if line["topic"] == names.BACKEND_STATUS]
    assert kinds.index("lost") < kinds.index("back")


async def test_follow_without_main_says_so(runtime_dir: Path) -> None:
    """`ctxbus status --follow` with nothing running prints "main is not running" first."""
    proc = await asyncio.create_subprocess_exec(
        *cli_argv("status", "--follow"), env=cli_env(runtime_dir), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            first = await proc.stdout.readline()
        assert b"main is not running" in first, first
    finally:
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
