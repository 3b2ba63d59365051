"""The chaos soak (issue 11 §6): the whole app under kills, requests and a changing screen.

`ctxbus up` runs on a private Xvfb with a capture every 0.5 s. For about 45 s, three things
happen at once: a stream of idempotent GETs to the backend (one every ~15 ms, retried once on a
fresh connection by :class:`BackendClient`); numbered desktop pictures shown one after the other,
each held until the backend has stored a capture showing it; and SIGKILLs of the backend,
capture and the frontend, chosen by a seeded RNG, one at a time, each victim up for more than
main's and the launcher's ``min_uptime`` (1 s) and running again before the next kill, so no end
is unstable and the crash-loop policy never gives up. Then: no request failed, every picture is
stored exactly once and no two consecutive captures are the same, and Ctrl-C ends everything
(exit 0, nothing left).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import psutil
import pytest

from bus import (
    AsyncRequester,
    BackendStatus,
    CaptureFrame,
    ComponentStatus,
    Endpoints,
    LauncherOps,
    MainOps,
)
from bus import endpoints as names
from services.foundation.backend_client import BackendClient, BackendUnavailable
from tests.fixtures.display import XServer, running_xvfb, stop_process
from tests.fixtures.recorder import TopicRecorder
from tests.integration.soak_pictures import numbered_picture, picture_number
from tests.integration.test_launcher import STOP_DEADLINE, Up, alive, running_up

pytestmark = pytest.mark.display

SEED = 11
CHAOS_SECONDS = 45.0  # kills start no later than this after the first one
SCREEN = (1280, 720)  # smaller than a real desktop: 2 shared cores run the whole app
CAPTURE_INTERVAL = "0.5"
MIN_UPTIME = 1.2  # seconds a run is up before it is killed (the policies' min_uptime is 1 s)
KILL_SPREAD = 0.6  # a random extra wait before each kill, up to this many seconds
VICTIMS = ("backend", "capture", "frontend")
WEIGHTS = (6, 2, 1)  # after one kill of each, how often each is chosen
REQUEST_PERIOD = 0.015  # seconds between the stream's requests
MAX_REQUESTS = 6000  # the stream's bound (45 s at 15 ms is ~3,000)
STREAM_PATHS = ("/health", "/api/captures?limit=1")
REQUEST_TIMEOUT = 10.0  # seconds for one attempt: a request that hangs fails the test
RESTART_DEADLINE = 30.0  # seconds for a killed component to run again
STORE_DEADLINE = 30.0  # seconds for a shown picture to be stored
NEWEST = 5  # captures looked at when checking whether a picture is stored
PAGE = 500
NEAR = 3.0  # seconds around a failing capture in which kills are listed


class Run(NamedTuple):
    """One state of a component: its pid and when the state was published (wall clock)."""

    state: str
    pid: int | None
    ts: float


class Kill(NamedTuple):
    at: float  # wall clock, as captured_at
    victim: str
    pid: int


@dataclass
class Requests:
    """Idempotent GETs through a :class:`BackendClient`, each failure kept."""

    client: BackendClient
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    worst: float = 0.0

    async def get(self, path: str) -> httpx.Response | None:
        """GET ``path`` (one retry on a fresh connection); None, and a failure kept, unless 200."""
        started = time.perf_counter()
        try:
            response = await self.client.request("GET", path)
        except BackendUnavailable as exc:
            self.failures.append(f"GET {path}: {exc}")
            return None
        finally:
            self.worst = max(self.worst, time.perf_counter() - started)
        if response.status_code != 200:
            self.failures.append(f"GET {path}: {response.status_code} {response.text[:300]}")
            return None
        self.ok += 1
        return response

    async def stream(self, stop: asyncio.Event) -> None:
        """A GET every ``REQUEST_PERIOD`` until ``stop`` is set (at most ``MAX_REQUESTS``)."""
        for count in range(MAX_REQUESTS):
            if stop.is_set():
                return
            await self.get(STREAM_PATHS[count % len(STREAM_PATHS)])
            await asyncio.sleep(REQUEST_PERIOD)  # sleep-ok: pacing of the request stream


class Family:
    """Every process of the launcher's tree seen during the run (pid and create time)."""

    def __init__(self, up: Up) -> None:
        self.up = up
        self.seen: set[psutil.Process] = set()

    def record(self) -> None:
        self.seen.update(self.up.tree())


class Victims:
    """Who runs now, from a snapshot taken after subscribing and the events since."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.backend = TopicRecorder(endpoints, names.BACKEND_STATUS, BackendStatus)
        self.components = TopicRecorder(endpoints, names.COMPONENT_STATUS, ComponentStatus)
        self.seed: dict[str, Run] = {}

    async def snapshot(self, endpoints: Endpoints) -> None:
        main, launcher = AsyncRequester(endpoints.control), AsyncRequester(endpoints.launcher)
        try:
            backend = await main.call(MainOps.GET_STATUS)
            listing = await launcher.call(LauncherOps.GET_COMPONENTS)
        finally:
            main.close()
            launcher.close()
        self.seed["backend"] = Run(backend.state, backend.pid, backend.ts)
        for status in listing.components:
            self.seed[status.component] = Run(status.state, status.pid, status.ts)

    def runs(self, name: str) -> list[Run]:
        if name == "backend":
            events = [Run(e.state, e.pid, e.ts) for e in self.backend.events]
        else:
            events = [
                Run(e.state, e.pid, e.ts) for e in self.components.events if e.component == name
            ]
        return [self.seed[name], *events] if name in self.seed else events

    def recorder(self, name: str) -> TopicRecorder[Any]:
        return self.backend if name == "backend" else self.components

    async def running(self, name: str, *, not_pid: int | None = None) -> Run:
        """``name``'s current run once it is running (with a pid other than ``not_pid``)."""

        def ready(_: object) -> bool:
            runs = self.runs(name)
            return (
                bool(runs) and runs[-1].state == "running" and runs[-1].pid not in (None, not_pid)
            )

        await self.recorder(name).wait_until(ready, RESTART_DEADLINE)
        pid = self.runs(name)[-1].pid
        since = min(run.ts for run in self.runs(name) if run.pid == pid and run.state == "running")
        return Run("running", pid, since)

    def close(self) -> None:
        self.backend.close()
        self.components.close()


class Chaos:
    """SIGKILLs at random, one at a time, each within the crash-loop policy."""

    def __init__(self, victims: Victims, family: Family) -> None:
        self.victims = victims
        self.family = family
        self.rng = random.Random(SEED)
        self.kills: list[str] = []
        self.log: list[Kill] = []

    def schedule(self) -> Iterator[str]:
        """One kill of each first (in a random order), then weighted random choices."""
        yield from self.rng.sample(VICTIMS, len(VICTIMS))
        while True:
            yield self.rng.choices(VICTIMS, WEIGHTS)[0]

    async def run(self) -> None:
        end = time.monotonic() + CHAOS_SECONDS
        for name in self.schedule():
            if time.monotonic() >= end:
                return
            await self.kill(name)

    async def kill(self, name: str) -> None:
        """SIGKILL ``name`` once it has run long enough; return once its successor runs."""
        run = await self.victims.running(name)
        assert run.pid is not None
        up_for = MIN_UPTIME + self.rng.uniform(0, KILL_SPREAD)
        await asyncio.sleep(max(0.0, run.ts + up_for - time.time()))  # sleep-ok: pacing of kills
        self.family.record()
        os.kill(run.pid, signal.SIGKILL)
        self.kills.append(name)
        self.log.append(Kill(time.time(), name, run.pid))
        await self.victims.running(name, not_pid=run.pid)
        self.family.record()


def show_picture(xvfb: XServer, number: int) -> None:
    """Show picture ``number`` full screen, then close the windows it covers."""
    covered = list(xvfb.clients)
    xvfb.show(numbered_picture(xvfb.size, number), name=f"picture-{number}")
    for client in covered:
        stop_process(client)
        xvfb.clients.remove(client)


class Screen:
    """Numbered pictures, each held until the backend stores a capture that shows it."""

    def __init__(self, xvfb: XServer, requests: Requests, victims: Victims, endpoints: Endpoints):
        self.xvfb = xvfb
        self.requests = requests
        self.victims = victims
        self.frames = TopicRecorder(endpoints, names.CAPTURE_FRAME, CaptureFrame)
        self.numbers: dict[str, int | None] = {}  # capture id -> the picture it shows
        self.shown = 1  # picture 0 is on the screen before the app starts

    async def drive(self, stop: asyncio.Event) -> None:
        """Show the next picture once the current one is stored, until ``stop`` is set."""
        await self.until_stored(0)
        while not stop.is_set():
            await asyncio.to_thread(show_picture, self.xvfb, self.shown)
            self.shown += 1
            await self.until_stored(self.shown - 1)

    async def until_stored(self, number: int) -> None:
        """Return once a stored capture shows picture ``number``.

        Checked again on each ``capture.frame`` and each start of capture (a capture killed
        between storing a frame and announcing it announces nothing).
        """
        try:
            async with asyncio.timeout(STORE_DEADLINE):
                await self._until_stored(number)
        except TimeoutError:
            raise AssertionError(f"picture {number} not stored within {STORE_DEADLINE}s") from None

    async def _until_stored(self, number: int) -> None:
        while True:
            frames, components = len(self.frames.events), len(self.victims.components.events)
            if number in await self.newest():
                return
            await first_of(
                self.frames.wait_for(lambda _: True, after=frames, timeout=STORE_DEADLINE),
                self.victims.components.wait_for(
                    lambda s: s.component == "capture" and s.state == "running",
                    after=components,
                    timeout=STORE_DEADLINE,
                ),
            )

    async def newest(self) -> set[int | None]:
        listed = await self.requests.get(f"/api/captures?limit={NEWEST}")
        if listed is None:
            return set()
        return {await self.number(item["id"]) for item in listed.json()["items"]}

    async def number(self, capture_id: str) -> int | None:
        """The picture capture ``capture_id`` shows (its image fetched once)."""
        if capture_id not in self.numbers:
            image = await self.requests.get(f"/api/captures/{capture_id}/image")
            if image is None:
                return None
            self.numbers[capture_id] = await asyncio.to_thread(picture_number, image.content)
        return self.numbers[capture_id]

    async def stored(self) -> list[dict[str, Any]]:
        """Every stored capture, oldest first, each with the picture it shows as ``number``."""
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            listed = await self.requests.get(f"/api/captures?limit={PAGE}{cursor}")
            assert listed is not None, self.requests.failures[-1]
            page = listed.json()
            items.extend(page["items"])
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        for item in items:
            item["number"] = await self.number(item["id"])
        return sorted(items, key=lambda item: (item["captured_at"], item["id"]))


async def first_of(*waits: Coroutine[Any, Any, object]) -> None:
    """Return when the first of ``waits`` returns (or raises); cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


def assert_stored_once(stored: list[dict[str, Any]], shown: int, kills: list[Kill]) -> None:
    """Each picture shown is stored exactly once; no two consecutive captures are the same."""
    counts = Counter(item["number"] for item in stored if item["number"] is not None)
    twice = [item for item in stored if item["number"] is not None and counts[item["number"]] > 1]
    assert counts == Counter(range(shown)), (
        f"pictures stored other than once: {sorted(set(range(shown)) ^ set(counts))} missing, "
        f"{describe(twice, kills)}"
    )
    for monitor in {item["monitor"] for item in stored}:
        own = [item for item in stored if item["monitor"] == monitor]
        for before, after in itertools.pairwise(own):
            same = before["sha256"] == after["sha256"] or (
                before["number"] is not None and before["number"] == after["number"]
            )
            assert not same, (
                f"the same screen stored twice in a row: {describe([before, after], kills)}"
            )


def describe(items: list[dict[str, Any]], kills: list[Kill]) -> str:
    """Captures and the kills within ``NEAR`` seconds of them, for a failure message."""
    lines = [
        f"picture {item['number']} id {item['id']} key {item['idempotency_key']} "
        f"captured_at {item['captured_at']:.3f}"
        for item in items
    ]
    times = [item["captured_at"] for item in items]
    near = [kill for kill in kills if any(abs(kill.at - at) <= NEAR for at in times)]
    lines += [f"kill of {kill.victim} (pid {kill.pid}) at {kill.at:.3f}" for kill in near]
    return "\n".join(lines)


@pytest.fixture
def soak_screen() -> Iterator[XServer]:
    """A private Xvfb of ``SCREEN`` size."""
    with running_xvfb(SCREEN) as server:
        yield server


@pytest.fixture
async def soak_up(runtime_dir: Path, soak_screen: XServer) -> AsyncIterator[Up]:
    """`ctxbus up` on the soak's screen, picture 0 showing, capture every 0.5 s."""
    await asyncio.to_thread(show_picture, soak_screen, 0)
    env = {"CTXBUS_CAPTURE_INTERVAL": CAPTURE_INTERVAL, "DISPLAY": soak_screen.display}
    async with running_up(runtime_dir, env=env) as up:
        yield up


async def chaos_until_done(chaos: Chaos, stop: asyncio.Event) -> None:
    try:
        await chaos.run()
    finally:
        stop.set()


@pytest.mark.timeout(240)
async def test_chaos_soak(runtime_dir: Path, soak_screen: XServer, soak_up: Up) -> None:
    """Kills under load: 0 failed GETs, each picture stored once, Ctrl-C → exit 0, nothing left."""
    endpoints = Endpoints(runtime_dir)
    family = Family(soak_up)
    family.record()
    victims = Victims(endpoints)
    client = BackendClient(endpoints, timeout=REQUEST_TIMEOUT)
    requests = Requests(client)
    screen = Screen(soak_screen, requests, victims, endpoints)
    try:
        await victims.snapshot(endpoints)
        async with asyncio.timeout(RESTART_DEADLINE):  # ctxbus is up: main answers
            await client.refresh()
        chaos, stop = Chaos(victims, family), asyncio.Event()
        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            group.create_task(chaos_until_done(chaos, stop))
            group.create_task(requests.stream(stop))
            group.create_task(screen.drive(stop))
        took = time.monotonic() - started
        stored = await screen.stored()
        family.record()
    finally:
        screen.frames.close()
        victims.close()
        await client.aclose()
    print(
        f"soak: {took:.1f}s, kills {Counter(chaos.kills)}, requests {requests.ok} ok "
        f"{len(requests.failures)} failed, worst {requests.worst * 1000:.0f} ms, "
        f"pictures {screen.shown}, captures {len(stored)} "
        f"({sum(item['number'] is None for item in stored)} of a picture half drawn)"
    )
    assert requests.failures == []
    assert set(chaos.kills) == set(VICTIMS)
    assert_stored_once(stored, screen.shown, chaos.log)
    soak_up.proc.send_signal(signal.SIGINT)
    assert await soak_up.wait(STOP_DEADLINE) == 0
    assert (await soak_up.rest())[-1] == {"ctxbus": "stopped"}
    assert alive(list(family.seen)) == []
