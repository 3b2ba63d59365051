"""Real main and capture processes, started through the production spawn code.

:func:`spawn_main` spawns ``python -m services.main`` with
:class:`services.foundation.supervision.Child` (as the launcher does), every endpoint under
``runtime_dir``, and returns once ``backend.status`` says ``running`` on the bus (followed with
the Clone pattern: main starts its backend before its bus, so ``running`` may be published before
a subscription made at the spawn has reached main's proxy).
:func:`running_capture` spawns ``python -m services.capture`` the same way, its ``capture.status``
and ``capture.frame`` events recorded from before its start. Both context managers stop their
process with SIGTERM at the end and assert a clean exit (status 0); for main also that no process
it started is left. The benchmarks use them, and the tests through ``tests/fixtures/processes.py``
and ``tests/services/capture/harness.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import psutil

from bench.recorder import TopicRecorder
from bus import (
    MAIN_BEAT,
    Accepted,
    AsyncRequester,
    BackendStatus,
    Endpoints,
    PortInfo,
    StateFollower,
)
from bus import endpoints as names
from bus.messages import CaptureFrame, CaptureNowArgs, CaptureNowResult, CaptureStatus, NoArgs
from bus.ops import CaptureOps, MainOps, Op
from services.foundation.supervision import Child, ChildSpec

READY_TIMEOUT = 60.0
MAIN_STOP_TIMEOUT = 20.0
CAPTURE_STOP_TIMEOUT = 15.0
REPO = Path(__file__).resolve().parents[1]


class StatusLog(TopicRecorder[BackendStatus]):
    """Every ``backend.status`` event main publishes, in order, from before main starts."""

    def __init__(self, endpoints: Endpoints) -> None:
        super().__init__(endpoints, names.BACKEND_STATUS, BackendStatus, timeout=READY_TIMEOUT)


class MainProcess:
    """A running main: its process, bus endpoints, a requester and the status log."""

    def __init__(self, child: Child, endpoints: Endpoints, log: StatusLog) -> None:
        self.child = child
        self.endpoints = endpoints
        self.log = log
        self.control = AsyncRequester(endpoints.control, timeout=5.0)

    async def call(self, op: Op[NoArgs, Accepted]) -> Accepted:
        return await self.control.call(op)

    async def status(self) -> BackendStatus:
        return await self.control.call(MainOps.GET_STATUS)

    async def port_info(self) -> PortInfo:
        return await self.control.call(MainOps.GET_PORT)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.child.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    async def stop(self) -> int:
        """SIGTERM main and wait; its exit status."""
        self.control.close()
        return await self.child.terminate(MAIN_STOP_TIMEOUT)


def main_argv(runtime_dir: Path, *extra: str, app: str) -> tuple[str, ...]:
    return (
        sys.executable,
        "-m",
        "services.main",
        "--runtime-dir",
        str(runtime_dir),
        "--data-dir",
        str(runtime_dir / "data"),
        "--log-dir",
        str(runtime_dir / "log"),
        "--backend-app",
        app,
        *extra,
    )


async def spawn_main(
    runtime_dir: Path, *extra: str, app: str, lifeline: bool = False
) -> MainProcess:
    """Start main and return once it has published ``running`` (subscribed before the start)."""
    endpoints = Endpoints(runtime_dir)
    log = StatusLog(endpoints)
    spec = ChildSpec(
        name="main",
        argv=main_argv(runtime_dir, *extra, app=app),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        log_dir=runtime_dir / "log",
        lifeline=lifeline,
    )
    child = await Child.spawn(spec)
    main = MainProcess(child, endpoints, log)
    try:
        await until_running(main)
    except TimeoutError:
        main.child.kill()
        raise AssertionError("main never reported running:\n" + "\n".join(child.tail())) from None
    return main


async def until_running(main: MainProcess) -> None:
    """Until main says its backend runs: its status (a snapshot), then each change after it."""
    requester = AsyncRequester(main.endpoints.control, timeout=5.0)

    async def snapshot() -> BackendStatus:
        return await requester.call(MainOps.GET_STATUS)

    follower = StateFollower(
        main.endpoints.events, names.BACKEND_STATUS, BackendStatus, snapshot, heartbeat=MAIN_BEAT
    )
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            async for update in follower.updates():  # closed by asyncio's finalizer once left
                if update.event is not None and update.event.state == "running":
                    return
    finally:
        requester.close()


@asynccontextmanager
async def running_main(
    runtime_dir: Path, extra: Sequence[str] = (), *, app: str
) -> AsyncIterator[MainProcess]:
    """A main for the ``async with`` block; on exit: clean stop, status 0, nothing left."""
    main = await spawn_main(runtime_dir, *extra, app=app)
    try:
        yield main
    finally:
        family = main.descendants()
        code = await main.stop()
        main.log.close()
        leftover = [p.pid for p in family if p.is_running() and p.status() != "zombie"]
        assert code == 0, f"main exited with {code}:\n" + "\n".join(main.child.tail())
        assert leftover == [], f"processes left behind: {leftover}"


class CaptureProcess:
    """A running capture process with its status and frame logs and a requester."""

    def __init__(
        self,
        child: Child,
        endpoints: Endpoints,
        status: TopicRecorder[CaptureStatus],
        frames: TopicRecorder[CaptureFrame],
    ) -> None:
        self.child = child
        self.endpoints = endpoints
        self.status = status
        self.frames = frames
        self.requester = AsyncRequester(endpoints.capture, timeout=5.0)
        self.killed = False

    async def kill(self) -> None:
        """SIGKILL it (a crash: nothing is flushed) and wait until it is reaped."""
        self.killed = True
        self.child.kill()
        await self.child.reaped()

    async def get_status(self) -> CaptureStatus:
        return await self.requester.call(CaptureOps.GET_STATUS)

    async def op(self, op: Op[NoArgs, CaptureStatus]) -> CaptureStatus:
        return await self.requester.call(op)

    async def capture_now(self, *, force: bool = False) -> CaptureNowResult:
        return await self.requester.call(CaptureOps.CAPTURE_NOW, CaptureNowArgs(force=force))

    async def wait_status(self, predicate: Callable[[CaptureStatus], bool]) -> CaptureStatus:
        return await self.status.wait_for(predicate)

    async def stop(self) -> int:
        self.requester.close()
        code = await self.child.terminate(CAPTURE_STOP_TIMEOUT)
        self.status.close()
        self.frames.close()
        return code


def capture_argv(runtime_dir: Path, extra: Sequence[str]) -> tuple[str, ...]:
    return (
        sys.executable,
        "-m",
        "services.capture",
        "--runtime-dir",
        str(runtime_dir),
        "--data-dir",
        str(runtime_dir / "capture-data"),
        "--log-dir",
        str(runtime_dir / "log"),
        *extra,
    )


@asynccontextmanager
async def running_capture(
    runtime_dir: Path, extra: Sequence[str] = (), display: str | None = None
) -> AsyncIterator[CaptureProcess]:
    """A capture process, its events logged from before its start; on exit: status 0.

    After :meth:`CaptureProcess.kill` the expected status is death by SIGKILL instead.
    """
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY" and not k.startswith("CTXBUS_")}
    if display is not None:
        env["DISPLAY"] = display
    env["PYTHONPATH"] = str(REPO)
    endpoints = Endpoints(runtime_dir)
    spec = ChildSpec(
        name="capture", argv=capture_argv(runtime_dir, extra), env=env, log_dir=runtime_dir / "log"
    )
    status = TopicRecorder(endpoints, names.CAPTURE_STATUS, CaptureStatus)
    frames = TopicRecorder(endpoints, names.CAPTURE_FRAME, CaptureFrame)
    process = CaptureProcess(await Child.spawn(spec), endpoints, status, frames)
    try:
        yield process
    finally:
        code = await process.stop()
        expected = -signal.SIGKILL if process.killed else 0
        assert code == expected, f"capture exited with {code}:\n" + "\n".join(process.child.tail())
