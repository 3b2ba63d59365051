"""Run a real capture process and watch its events: shared by the capture and integration tests.

:class:`TopicLog` subscribes to one topic before anything is started and keeps every event, so a
test waits on a condition with a deadline instead of sleeping. :func:`running_capture` spawns
``python -m services.capture`` through the production spawn code and, at the end, asserts a
clean exit (the spawn code kills its process group after it, so nothing is left).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Generic, TypeVar

import zmq
import zmq.asyncio

from bus import AsyncRequester, Endpoints, Event, NoArgs, Proxy
from bus import endpoints as names
from bus.codec import decode_event
from bus.messages import CaptureFrame, CaptureNowArgs, CaptureNowResult, CaptureStatus
from bus.ops import CaptureOps, Op
from services.foundation.supervision import Child, ChildSpec

E = TypeVar("E", bound=Event)

WAIT_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
REPO = Path(__file__).resolve().parents[3]


class TopicLog(Generic[E]):
    """Every event published on ``topic`` from now on, in order."""

    def __init__(self, endpoints: Endpoints, topic: str, event_type: type[E]) -> None:
        self.topic = topic
        self.event_type = event_type
        self.events: list[E] = []
        self._changed = asyncio.Condition()
        self._sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoints.events)
        self._sock.subscribe(topic.encode())
        self._task = asyncio.ensure_future(self._collect())

    async def _collect(self) -> None:
        while True:
            frames = await self._sock.recv_multipart()
            topic, event = decode_event(frames, self.event_type)
            if topic != self.topic:
                continue
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[E], bool], *, after: int = 0, deadline: float = WAIT_TIMEOUT
    ) -> E:
        """The first event at index >= ``after`` that satisfies ``predicate``."""
        try:
            async with asyncio.timeout(deadline), self._changed:
                while True:
                    for event in self.events[after:]:
                        if predicate(event):
                            return event
                    await self._changed.wait()
        except TimeoutError:
            last = self.events[-1] if self.events else None
            raise AssertionError(
                f"no matching {self.topic} within {deadline}s; last: {last}"
            ) from None

    def close(self) -> None:
        self._task.cancel()
        self._sock.close(linger=0)


@asynccontextmanager
async def event_proxy(endpoints: Endpoints) -> AsyncIterator[None]:
    """main's XSUB/XPUB forwarder, for tests that run capture without main."""
    proxy = Proxy(endpoints.publish, endpoints.events)
    task = asyncio.ensure_future(proxy.run())
    await proxy.wait_bound()
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class CaptureProcess:
    """A running capture process with its status and frame logs and a requester."""

    def __init__(
        self,
        child: Child,
        endpoints: Endpoints,
        status: TopicLog[CaptureStatus],
        frames: TopicLog[CaptureFrame],
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
        code = await self.child.terminate(STOP_TIMEOUT)
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
    status = TopicLog(endpoints, names.CAPTURE_STATUS, CaptureStatus)
    frames = TopicLog(endpoints, names.CAPTURE_FRAME, CaptureFrame)
    process = CaptureProcess(await Child.spawn(spec), endpoints, status, frames)
    try:
        yield process
    finally:
        code = await process.stop()
        expected = -signal.SIGKILL if process.killed else 0
        assert code == expected, f"capture exited with {code}:\n" + "\n".join(process.child.tail())
