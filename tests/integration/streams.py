"""A steady stream of idempotent requests, as a user's client sends them, for failure counting."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from tests.fixtures.recorder import Recorder

PERIOD = 0.005  # one request every 5 ms


@dataclass
class RequestStream:
    """GET ``path`` every 5 ms; each request may be retried once, as clients do for GETs."""

    base_url: str
    path: str = "/health"
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    served: Recorder[int] = field(default_factory=lambda: Recorder("served pid"))
    worst: float = 0.0
    _task: asyncio.Task[None] | None = None

    @property
    def pids(self) -> list[int]:
        """The pid that answered each successful request, in order."""
        return self.served.items

    async def _one(self, client: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        for attempt in range(2):
            try:
                response = await client.get(self.path)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                if attempt == 1:
                    self.failures.append(repr(exc))
                continue
            self.ok += 1
            self.served.add(int(response.json()["pid"]))
            break
        self.worst = max(self.worst, time.perf_counter() - started)

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as client:
            while True:
                await self._one(client)
                await asyncio.sleep(PERIOD)  # sleep-ok: the pace of the stream, not a wait

    async def served_by(self, pid: int, count: int = 20, timeout: float = 30.0) -> None:
        """Return once ``count`` more requests were answered by process ``pid``."""
        target = self.pids.count(pid) + count
        await self.served.wait_until(lambda pids: pids.count(pid) >= target, timeout)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
