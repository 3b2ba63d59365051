"""Bus overhead: bare pyzmq against the ctxbus library, on this machine, in one run.

Round trip (ipc): a bare REQ/REP pair against a ctxbus ``Requester``/``AsyncRequester`` talking to a
``Replier`` in another process, sync against sync and asyncio against asyncio. Event latency: bare
PUB → SUB against main's arrangement, a ``Publisher`` sending on its ``Proxy``'s XPUB (one asyncio
loop, with the ``Replier`` the followers ask for their snapshot) → ``StateFollower``, to 1 and 10
subscriber processes; latency is the receive time minus the ``ts`` in the body. For orientation,
with 1 subscriber, in the same rounds: another process's event through main's proxy (bare PUB →
a ``Proxy`` in a process of its own → bare SUB), the hop of the launcher's and capture's events.

Goals: ctxbus/bare <= 1.5 for the round trip p50, <= 2.0 for the event latency p50.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import msgspec
import zmq
import zmq.asyncio

from bench._report import write_section
from bus import (
    AsyncRequester,
    BackendStatus,
    Endpoints,
    NoArgs,
    PingResult,
    Proxy,
    Publisher,
    Replier,
    Requester,
    StateFollower,
    encode_ok,
    encode_request,
    ensure_runtime_dir,
)
from bus.endpoints import BACKEND_STATUS
from bus.ops import MainOps

ROUNDS = 5  # bare and ctxbus take turns this many times per case
ROUND_TRIPS = 3000  # measured requests per round-trip case
WARMUP = 300  # unmeasured requests before them
EVENTS = 1000  # measured events per latency case
EVENT_INTERVAL = 0.001  # seconds between published events: latency, not throughput
READY_TIMEOUT = 30.0  # seconds for child processes to come up (the machine may be busy)
RESULT_TIMEOUT = 30.0  # seconds for a subscriber's figures to arrive
GOAL_ROUND_TRIP = 1.5
GOAL_EVENT = 2.0

_CTX = mp.get_context("spawn")
Target = tuple[Callable[..., None], tuple[Any, ...]]  # a child process: its function and args
_PING_REPLY = encode_ok("0" * 32, PingResult(pid=1, instance="0" * 16, uptime_s=1.0))
_PING_REQUEST = encode_request("0" * 32, MainOps.PING.name)


@dataclass(frozen=True, slots=True)
class Figures:
    """p50 and p99 of one case, in microseconds."""

    p50: float
    p99: float

    @classmethod
    def of(cls, samples_s: list[float]) -> Figures:
        ordered = sorted(samples_s)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(statistics.median(ordered) * 1e6, p99 * 1e6)


# -- children -------------------------------------------------------------------------------------


def _bare_rep(address: str, ready: MpEvent, asynchronous: bool) -> None:
    """A bare REP server answering every request with the same reply frame."""
    if asynchronous:
        asyncio.run(_bare_rep_async(address, ready))
        return
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
    sock.bind(address)
    ready.set()
    while True:
        sock.recv()
        sock.send(_PING_REPLY)


async def _bare_rep_async(address: str, ready: MpEvent) -> None:
    sock = zmq.asyncio.Context.instance().socket(zmq.REP)
    sock.bind(address)
    ready.set()
    while True:
        await sock.recv()
        await sock.send(_PING_REPLY)


def _ctxbus_rep(address: str, ready: MpEvent) -> None:
    """A ctxbus Replier answering ``ping``."""
    asyncio.run(_ctxbus_rep_async(address, ready))


async def _ctxbus_rep_async(address: str, ready: MpEvent) -> None:
    started = time.monotonic()

    async def ping(_: NoArgs) -> PingResult:
        return PingResult(pid=os.getpid(), instance="bench", uptime_s=time.monotonic() - started)

    replier = Replier(address)
    replier.register(MainOps.PING, ping)
    replier.bind()
    ready.set()
    await replier.serve()


def _proxy(endpoints: Endpoints, ready: MpEvent) -> None:
    """main's part: the XSUB/XPUB proxy."""
    asyncio.run(_proxy_async(endpoints, ready))


async def _proxy_async(endpoints: Endpoints, ready: MpEvent) -> None:
    proxy = Proxy(endpoints.publish, endpoints.events)
    async with asyncio.TaskGroup() as group:
        group.create_task(proxy.run())
        await proxy.wait_bound()
        ready.set()


def _bare_sub(address: str, ready: MpEvent, results: Queue[list[float]]) -> None:
    """A bare SUB socket: latency of every event until the one with ``seq`` 0 (the end)."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sock.connect(address)
    sock.subscribe(BACKEND_STATUS.encode())
    samples: list[float] = []
    while True:
        _, body = sock.recv_multipart()
        now = time.time()
        event = msgspec.json.decode(body)
        if event["seq"] < 0:
            ready.set()
        elif event["seq"] == 0:
            break
        else:
            samples.append(now - event["ts"])
    results.put(samples)


def _ctxbus_sub(endpoints: Endpoints, ready: MpEvent, results: Queue[list[float]]) -> None:
    """A StateFollower with its snapshot from the publisher's ``get_status``."""
    asyncio.run(_ctxbus_sub_async(endpoints, ready, results))


async def _ctxbus_sub_async(
    endpoints: Endpoints, ready: MpEvent, results: Queue[list[float]]
) -> None:
    requester = AsyncRequester(endpoints.control)

    async def snapshot() -> BackendStatus:
        return await requester.call(MainOps.GET_STATUS)

    follower = StateFollower(endpoints.events, BACKEND_STATUS, BackendStatus, snapshot)
    samples: list[float] = []
    async for update in follower.updates():
        now = time.time()
        if update.event is None:
            continue
        if update.event.reason == "warmup":
            ready.set()
        elif update.event.reason == "end":
            break
        elif update.kind == "event":
            samples.append(now - update.event.ts)
    results.put(samples)


# -- the cases -------------------------------------------------------------------------------------
# Bare and ctxbus run side by side and take turns in short rounds, so that both see the same load
# on the machine (other processes, CPU frequency); their figures are comparable even when absolute
# numbers drift from run to run.


@contextmanager
def _children(targets: list[Target]) -> Iterator[None]:
    """Start one process per target; stop them all on the way out."""
    procs: list[SpawnProcess] = []
    try:
        for target, args in targets:
            proc = _CTX.Process(target=target, args=args, daemon=True)
            proc.start()
            procs.append(proc)
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _wait_all(events: list[MpEvent], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for event in events:
        if not event.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"{what} did not come up within {READY_TIMEOUT:g}s")


def _timed(call: Callable[[], object], count: int, samples: list[float]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)


async def _timed_async(call: Callable[[], Any], count: int, samples: list[float]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)


def round_trips(
    bare_address: str, address: str, asynchronous: bool, bare_server_async: bool
) -> tuple[Figures, Figures]:
    """Bare REQ ↔ REP against ctxbus (Async)Requester ↔ Replier, each server in its own process.

    ``asynchronous`` picks the clients' flavour, ``bare_server_async`` the bare server's (the
    Replier is always asyncio).
    """
    ready = [_CTX.Event(), _CTX.Event()]
    servers: list[Target] = [
        (_bare_rep, (bare_address, ready[0], bare_server_async)),
        (_ctxbus_rep, (address, ready[1])),
    ]
    with _children(servers):
        _wait_all(ready, "the REP servers")
        if asynchronous:
            return asyncio.run(_round_trips_async(bare_address, address))
        return _round_trips_sync(bare_address, address)


def _round_trips_sync(bare_address: str, address: str) -> tuple[Figures, Figures]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    sock.connect(bare_address)
    requester = Requester(address)

    def bare() -> bytes:
        sock.send(_PING_REQUEST)
        return sock.recv()

    def ours() -> PingResult:
        return requester.call(MainOps.PING)

    try:
        _timed(bare, WARMUP, [])
        _timed(ours, WARMUP, [])
        bare_samples: list[float] = []
        our_samples: list[float] = []
        for _ in range(ROUNDS):
            _timed(bare, ROUND_TRIPS // ROUNDS, bare_samples)
            _timed(ours, ROUND_TRIPS // ROUNDS, our_samples)
        return Figures.of(bare_samples), Figures.of(our_samples)
    finally:
        sock.close(linger=0)
        requester.close()


async def _round_trips_async(bare_address: str, address: str) -> tuple[Figures, Figures]:
    sock = zmq.asyncio.Context.instance().socket(zmq.REQ)
    sock.connect(bare_address)
    requester = AsyncRequester(address)

    async def bare() -> bytes:
        await sock.send(_PING_REQUEST)
        return await sock.recv()

    async def ours() -> PingResult:
        return await requester.call(MainOps.PING)

    try:
        await _timed_async(bare, WARMUP, [])
        await _timed_async(ours, WARMUP, [])
        bare_samples: list[float] = []
        our_samples: list[float] = []
        for _ in range(ROUNDS):
            await _timed_async(bare, ROUND_TRIPS // ROUNDS, bare_samples)
            await _timed_async(ours, ROUND_TRIPS // ROUNDS, our_samples)
        return Figures.of(bare_samples), Figures.of(our_samples)
    finally:
        sock.close(linger=0)
        requester.close()


def event_latency(
    endpoints: Endpoints, bare_address: str, subscribers: int, hop: Endpoints | None = None
) -> tuple[Figures, Figures, Figures | None]:
    """Bare PUB → SUB processes against main's Publisher on its Proxy → StateFollower processes.

    With ``hop`` (endpoints of a proxy in a process of its own), a third row in the same rounds:
    bare PUB → that proxy → bare SUB processes, what another process's event pays.
    """
    if hop is None:
        return asyncio.run(_event_latency(endpoints, bare_address, subscribers, None))
    ready = _CTX.Event()
    with _children([(_proxy, (hop, ready))]):
        _wait_all([ready], "the proxy")
        return asyncio.run(_event_latency(endpoints, bare_address, subscribers, hop))


@dataclass
class _Bare:
    """A bare PUB socket and what its SUB processes report."""

    sock: zmq.Socket[bytes]
    ready: list[MpEvent]
    results: Queue[list[float]]

    @classmethod
    def open(cls, publish: str, events: str, subscribers: int) -> tuple[_Bare, list[Target]]:
        """Bound to ``publish`` when it is also ``events`` (direct), else connected (a proxy)."""
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        if publish == events:
            sock.bind(publish)
        else:
            sock.connect(publish)
        bare = cls(sock, [_CTX.Event() for _ in range(subscribers)], _CTX.Queue())
        return bare, [(_bare_sub, (events, r, bare.results)) for r in bare.ready]


async def _event_latency(
    endpoints: Endpoints, bare_address: str, subscribers: int, hop: Endpoints | None
) -> tuple[Figures, Figures, Figures | None]:
    bare, targets = _Bare.open(bare_address, bare_address, subscribers)
    bares = [bare]
    if hop is not None:
        via_hop, hop_targets = _Bare.open(hop.publish, hop.events, subscribers)
        bares.append(via_hop)
        targets += hop_targets
    proxy = Proxy(endpoints.publish, endpoints.events)  # main's: its own events go out of it
    publisher = Publisher(endpoints.publish, send=proxy.send)
    await publisher.publish(BACKEND_STATUS, BackendStatus(state="starting", port=0))
    replier = Replier(endpoints.control)
    replier.register(MainOps.GET_STATUS, _status_of(publisher))
    our_ready = [_CTX.Event() for _ in range(subscribers)]
    our_results: Queue[list[float]] = _CTX.Queue()
    targets += [(_ctxbus_sub, (endpoints, ready, our_results)) for ready in our_ready]
    socks = [b.sock for b in bares]
    try:
        async with asyncio.TaskGroup() as group:
            forwarding = group.create_task(proxy.run())
            await proxy.wait_bound()
            serving = group.create_task(replier.serve())
            with _children(targets):
                await _warm_up(socks, publisher, [r for b in bares for r in b.ready] + our_ready)
                for _ in range(ROUNDS):
                    for sock in socks:
                        await _publish_bare(sock, EVENTS // ROUNDS)
                    await _publish_ours(publisher, EVENTS // ROUNDS)
                for sock in socks:
                    await _publish_bare(sock, 0)
                await _publish_ours(publisher, 0)
                figures = await asyncio.gather(
                    *(asyncio.to_thread(_collect, b.results, subscribers) for b in bares),
                    asyncio.to_thread(_collect, our_results, subscribers),
                )
            serving.cancel()
            forwarding.cancel()
    finally:
        for sock in socks:
            sock.close(linger=0)
        publisher.close()
    return figures[0], figures[-1], figures[1] if hop is not None else None


def _status_of(publisher: Publisher) -> Callable[[NoArgs], Awaitable[BackendStatus]]:
    async def get_status(_: NoArgs) -> BackendStatus:
        latest = publisher.latest(BACKEND_STATUS)
        assert isinstance(latest, BackendStatus)
        return latest

    return get_status


def _bare_event(seq: int) -> list[bytes]:
    body = {"seq": seq, "ts": time.time(), "state": "running", "port": 8000}
    return [BACKEND_STATUS.encode(), msgspec.json.encode(body)]


async def _warm_up(
    bares: list[zmq.Socket[bytes]], publisher: Publisher, readies: list[MpEvent]
) -> None:
    """Publish on all until every subscriber has one event (slow joiners)."""
    async with asyncio.timeout(READY_TIMEOUT):
        while not all(ready.is_set() for ready in readies):
            for bare in bares:
                bare.send_multipart(_bare_event(-1))
            warmup = BackendStatus(state="running", port=0, reason="warmup")
            await publisher.publish(BACKEND_STATUS, warmup)
            await asyncio.sleep(0.01)


async def _publish_bare(bare: zmq.Socket[bytes], count: int) -> None:
    """``count`` timed events, or the end marker (seq 0) when ``count`` is 0."""
    for seq in range(1, count + 1) if count else [0]:
        bare.send_multipart(_bare_event(seq))
        await asyncio.sleep(EVENT_INTERVAL)


async def _publish_ours(publisher: Publisher, count: int) -> None:
    """``count`` timed events, or the end marker when ``count`` is 0."""
    for _ in range(count) if count else [0]:
        event = BackendStatus(state="running", port=8000, reason=None if count else "end")
        await publisher.publish(BACKEND_STATUS, event)
        await asyncio.sleep(EVENT_INTERVAL)


def _collect(results: Queue[list[float]], count: int) -> Figures:
    samples: list[float] = []
    for _ in range(count):
        samples.extend(results.get(timeout=RESULT_TIMEOUT))
    return Figures.of(samples)


# -- the report ------------------------------------------------------------------------------------


def _row(name: str, bare: Figures, ours: Figures, goal: float | None) -> str:
    ratio = ours.p50 / bare.p50
    verdict = "(info)" if goal is None else f"<= {goal:g} {'ok' if ratio <= goal else 'MISSED'}"
    return (
        f"{name:<28} {bare.p50:>9.1f} {bare.p99:>9.1f} {ours.p50:>9.1f} {ours.p99:>9.1f}"
        f" {ratio:>7.2f} {ours.p99 / bare.p99:>7.2f}  {verdict}"
    )


def run(runtime_dir: Path) -> list[str]:
    """Every case; the table's lines."""
    endpoints = Endpoints(ensure_runtime_dir(runtime_dir))
    bare_address = endpoints.address("bench-bare.sock")
    header = (
        f"{'case (microseconds)':<28} {'bare p50':>9} {'bare p99':>9} {'ours p50':>9} "
        f"{'ours p99':>9} {'p50 x':>7} {'p99 x':>7}  goal"
    )
    lines = [header, "-" * len(header)]
    for asynchronous, name in ((False, "round trip, sync"), (True, "round trip, asyncio")):
        bare, ours = round_trips(bare_address, endpoints.control, asynchronous, asynchronous)
        lines.append(_row(name, bare, ours, GOAL_ROUND_TRIP))
    hop = Endpoints(ensure_runtime_dir(runtime_dir / "hop"))
    for subscribers in (1, 10):
        # One sub: also bare through a proxy of its own, to show what the hop alone costs.
        bare, ours, via_hop = event_latency(
            endpoints, bare_address, subscribers, hop if subscribers == 1 else None
        )
        lines.append(_row(f"event latency, {subscribers} sub(s)", bare, ours, GOAL_EVENT))
        if via_hop is not None:
            lines.append(_row("  another process's, via main", bare, via_hop, None))
    # For orientation, not a goal: the Replier is asyncio by design, so against a bare asyncio
    # REP server a sync client measures what the library adds, not asyncio's own cost.
    bare, ours = round_trips(bare_address, endpoints.control, False, True)
    lines.append(_row("sync client, asyncio servers", bare, ours, None))
    return lines


HEADING = "## Bus"
WHERE_THE_TIME_GOES = """\
Where the rest of the time goes (issue 13's profile, `perf stat` on the server process, 10,000
sync round trips, quiet machine): a bare REP server uses about 20 us of CPU per request; an
asyncio loop driving a ROUTER socket with no Python work per request (read, send the same reply)
already 29 us and 1.25-1.3x the bare round trip; the Replier 31 us (37 us before issue 13's
changes). What is left in Python per request is the reply cache (a digest, a future), the decode
of request and args, the handler, the encode of the result and three frames each way; the client
adds about 2 us (id, encode, decode). A lone request whose handler does not wait is answered in
the pass of the loop that read it (`bus/eager.py`: its first step runs at once, in a task standing
by, so no task is made per request); the rest of a burst is started as tasks.

Events: bare PUB -> SUB is one hop, a blocking sync `recv` and a 63-byte body decoded to a dict;
ctxbus's follower is an asyncio task, and a `BackendStatus` body is 207 bytes decoded to a typed
struct. Main sends its own events on its proxy's XPUB, the socket its subscribers read, as the
Clone pattern's server does: one hop, as bare. Until issue 13's last round they went through
main's XSUB/XPUB proxy like any other publisher's (libzmq's `zmq_proxy` in a thread: its I/O
thread woken twice and its proxy thread once per event), which alone came to 1.8-1.95x bare and
kept the goal out of reach (2.09x to 10 subscribers, 2.17x to one). Other processes' events (the
launcher's, capture's) still take that hop, now forwarded in main's loop (row "another
process's, via main", for orientation). On the follower's path the FD wakes the loop, the
inbox's reader resolves a `Wakeup` (`bus/wakeup.py`) whose waiting task steps in that same pass
(an `asyncio.Future` would wake it one pass later), the message is read without asking `EVENTS`
again, decoded by one cached decoder per event type, and `EVENTS` is asked once before the next
wait (the FD is edge-triggered). With 10 subscriber processes on 2 cores each subscriber's CPU
per event adds to the last one's latency: the Wakeup cut it from about 59 to 47 us per event
(`time.process_time`, both threads of a subscriber, busy machine)."""


def section(lines: list[str]) -> str:
    """The ``## Bus`` section of ``docs/benchmarks.md``."""
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    return "\n".join(
        [
            HEADING,
            "",
            f"`python -m bench bus`, {when}, {platform.machine()}, {os.cpu_count()} cores "
            f"(shared), pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}, over ipc. Bare and "
            f"ctxbus take turns in {ROUNDS} rounds; {ROUND_TRIPS} round trips and {EVENTS} events "
            "per case. p50 x is ctxbus p50 / bare p50; the goal applies to it. The machine is "
            "shared: the ratios move by 0.1 from run to run when it is quiet, by up to 0.5 "
            "when other work runs; compare runs by their medians.",
            "",
            "```",
            *lines,
            "```",
            "",
            WHERE_THE_TIME_GOES,
        ]
    )


def main() -> None:
    """Print the bus figures (bare pyzmq against ctxbus); update ``docs/benchmarks.md``."""
    print("bus: bare pyzmq vs ctxbus over ipc (p50 x = ctxbus p50 / bare p50)")
    runtime_dir = Path(tempfile.mkdtemp(prefix="cb-bench-", dir="/tmp"))
    lines: list[str] = []
    try:
        for line in run(runtime_dir):
            print(line, flush=True)
            lines.append(line)
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)
    write_section(HEADING, section(lines))


if __name__ == "__main__":
    main()
