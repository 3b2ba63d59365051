"""Run a real indexer process and follow its ``indexer.status``.

:func:`running_indexer` spawns ``python -m services.indexer`` through the production spawn code
and follows its status with the Clone pattern (subscribe, snapshot over ``get_status``, then each
change), so a test waits on a condition with a deadline and misses no state even when the first
events go out before the subscription is joined; at the end it asserts a clean exit (status 0,
or death by SIGKILL after :meth:`kill`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bus import AsyncRequester, BusError, Endpoints, StateFollower
from bus import endpoints as names
from bus.messages import IndexerStatus
from bus.ops import IndexerOps
from services.foundation.supervision import Child, ChildSpec
from tests.fixtures.processes import REPO
from tests.fixtures.recorder import Recorder

STOP_TIMEOUT = 15.0


class IndexerProcess:
    """A running indexer with its status log and a requester."""

    def __init__(self, child: Child, endpoints: Endpoints) -> None:
        self.child = child
        self.endpoints = endpoints
        self.status: Recorder[IndexerStatus] = Recorder("indexer.status", timeout=60.0)
        self.requester = AsyncRequester(endpoints.indexer, timeout=5.0)
        self.killed = False
        self._follow = asyncio.ensure_future(self._follow_status())

    async def _follow_status(self) -> None:
        asker = AsyncRequester(self.endpoints.indexer, timeout=1.0, retries=1)

        async def snapshot() -> IndexerStatus:
            return await asker.call(IndexerOps.GET_STATUS)

        follower = StateFollower(
            self.endpoints.events, names.INDEXER_STATUS, IndexerStatus, snapshot
        )
        try:
            async for update in follower.updates():
                if update.event is not None:
                    self.status.add(update.event)
        finally:
            asker.close()

    async def get_status(self) -> IndexerStatus:
        return await self.requester.call(IndexerOps.GET_STATUS)

    async def wait_status(self, predicate: Callable[[IndexerStatus], bool]) -> IndexerStatus:
        return await self.status.wait_for(predicate)

    async def kill(self) -> None:
        """SIGKILL it (a crash: nothing is flushed) and wait until it is reaped."""
        self.killed = True
        self.child.kill()
        await self.child.reaped()

    async def stop(self) -> int:
        self.requester.close()
        code = await self.child.terminate(STOP_TIMEOUT)
        self._follow.cancel()
        with contextlib.suppress(asyncio.CancelledError, BusError):
            await self._follow
        return code


def indexer_argv(runtime_dir: Path, extra: Sequence[str]) -> tuple[str, ...]:
    return (
        sys.executable,
        "-m",
        "services.indexer",
        "--runtime-dir",
        str(runtime_dir),
        "--log-dir",
        str(runtime_dir / "log"),
        *extra,
    )


@asynccontextmanager
async def running_indexer(
    runtime_dir: Path, extra: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> AsyncIterator[IndexerProcess]:
    """An indexer process, its status logged from before its start; on exit: status 0."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CTXBUS_")}
    base.update({"PYTHONPATH": str(REPO), **(env or {})})
    endpoints = Endpoints(runtime_dir)
    spec = ChildSpec(
        name="indexer", argv=indexer_argv(runtime_dir, extra), env=base, log_dir=runtime_dir / "log"
    )
    process = IndexerProcess(await Child.spawn(spec), endpoints)
    try:
        yield process
    finally:
        code = await process.stop()
        expected = -signal.SIGKILL if process.killed else 0
        assert code == expected, f"indexer exited with {code}:\n" + "\n".join(process.child.tail())
