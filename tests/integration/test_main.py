"""main supervising a real backend: recovery, hand-off, give-up, orphans, stale records, bus."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec
import psutil
import zmq
import zmq.asyncio

from bus import Endpoints
from bus.ops import MainOps
from services.foundation.exits import EXIT_CONFIG
from services.foundation.supervision import Child, ChildSpec
from services.foundation.supervision.records import ProcessRecord, ProcessRecords
from tests.apps.steered import BROKEN, GATE
from tests.fixtures.processes import (
    MainProcess,
    StatusLog,
    main_argv,
    running_main,
    spawn_main,
)
from tests.integration.streams import RequestStream

CRASH_APP = "tests.apps.minimal:create_crashing_app"
STEERED_APP = "tests.apps.steered:create_app"
FLOWING = 10  # requests answered before the stream counts as flowing
STREAM_TIMEOUT = 30.0  # seconds for them


def is_running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive once ``timeout`` has passed or all are gone (psutil waits)."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = await asyncio.to_thread(psutil.wait_procs, procs, timeout)
    return [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE]


async def test_sigkill_recovers_on_same_port_without_failed_requests(
    main_process: MainProcess,
) -> None:
    """SIGKILL of the serving backend: starting then running, same port, new pid, 0 failed GETs."""
    first = await main_process.status()
    stream = RequestStream((await main_process.port_info()).base_url)
    stream.start()
    mark = len(main_process.log.events)
    os.kill(first.pid or 0, signal.SIGKILL)
    # The first start's events may still reach the log after the mark: match this restart's.
    starting = await main_process.log.wait_for(
        lambda e: e.state == "starting" and e.reason is not None, after=mark
    )
    running = await main_process.log.wait_for(
        lambda e: e.state == "running" and e.pid != first.pid, after=mark
    )
    await stream.served_by(running.pid or 0)
    await stream.stop()
    assert starting.reason == "crashed (signal SIGKILL)"
    assert starting.exit_code == -signal.SIGKILL
    assert running.port == first.port
    assert running.pid not in (None, first.pid)
    assert running.restarts == first.restarts + 1
    assert stream.failures == []
    assert stream.pids[-1] == running.pid


async def test_planned_restart_hands_off_without_failed_requests(
    main_process: MainProcess,
) -> None:
    """restart_backend under a request stream: new pid serving, the old one gone, 0 failures."""
    first = await main_process.status()
    stream = RequestStream((await main_process.port_info()).base_url)
    stream.start()
    # Flowing: the active backend or the warm standby (both accept on main's socket) answers.
    await stream.served.wait_until(lambda pids: len(pids) >= FLOWING, STREAM_TIMEOUT)
    mark = len(main_process.log.events)
    assert (await main_process.call(MainOps.RESTART_BACKEND)).accepted
    running = await main_process.log.wait_for(
        lambda e: e.state == "running" and e.pid != first.pid, after=mark
    )
    await stream.served_by(running.pid or 0)
    await stream.stop()
    assert running.pid != first.pid
    assert stream.failures == []
    assert await wait_gone([first.pid or 0], timeout=15.0) == []


async def test_sigstop_is_restarted_as_unresponsive(main_process: MainProcess) -> None:
    """A hung (SIGSTOPped) backend misses 3 health probes and is replaced, reason unresponsive."""
    first = await main_process.status()
    mark = len(main_process.log.events)
    os.kill(first.pid or 0, signal.SIGSTOP)
    try:
        starting = await main_process.log.wait_for(
            lambda e: e.state == "starting" and e.reason is not None, after=mark, timeout=20.0
        )
        running = await main_process.log.wait_for(
            lambda e: e.state == "running" and e.pid != first.pid, after=mark
        )
    finally:
        if is_running(first.pid):
            os.kill(first.pid or 0, signal.SIGCONT)
    assert starting.reason == "unresponsive"
    assert running.pid != first.pid
    assert not is_running(first.pid)


async def test_crash_loop_backs_off_then_gives_up_with_diagnosis(runtime_dir: Path) -> None:
    """A backend that exits at once: growing gaps between restarts, then error with exit code."""
    endpoints = Endpoints(runtime_dir)
    log = StatusLog(endpoints)
    child = await Child.spawn(
        ChildSpec("main", main_argv(runtime_dir, "--no-standby", app=CRASH_APP), dict(os.environ))
    )
    try:
        error = await log.wait_for(lambda e: e.state == "error", timeout=60.0)
        delays = [
            float(e.reason.split("restarting in ")[1].split(" s")[0])
            for e in log.events
            if e.state == "starting" and e.reason and "restarting in" in e.reason
        ]
        assert len(delays) >= 4
        assert all(later > earlier for earlier, later in itertools.pairwise(delays))
        assert error.exit_code == 3
        assert error.reason is not None
        assert "exit code 3" in error.reason
        assert "cannot open the database" in error.reason
        control = MainProcess(child, endpoints, log)
        try:
            assert (await control.port_info()).state == "error"
            assert (await control.status()).port == error.port
        finally:
            control.control.close()
    finally:
        assert await child.terminate(20.0) == 0
        log.close()


async def test_sigkill_of_main_leaves_no_backend(runtime_dir: Path) -> None:
    """main SIGKILLed: its backends (active and standby) are gone within 1 s."""
    main = await spawn_main(runtime_dir)  # returns once main says its backend runs
    try:
        backends = [p.pid for p in main.descendants()]
        assert backends
        main.child.kill()
        await main.child.wait()
        assert await wait_gone(backends, timeout=1.0) == []
        await main.child.reaped()
    finally:
        main.log.close()


async def test_stale_backend_of_dead_main_is_ended_and_strangers_left_alone(
    runtime_dir: Path,
) -> None:
    """A recorded backend of a dead main is ended; a stranger on 1733 lives, main takes a port."""
    stranger: socket.socket | None = _listen_on_1733()
    sleeper = [sys.executable, "-c", "import threading; threading.Event().wait()"]
    stale = subprocess.Popen(sleeper)  # noqa: ASYNC220 - started before the loop matters
    unrelated = subprocess.Popen(sleeper)  # noqa: ASYNC220 - likewise
    try:
        records = ProcessRecords(runtime_dir / "processes.json")
        records.add("backend", stale.pid)
        forged = ProcessRecord("backend", unrelated.pid, 12345.0, ["not", "this"])
        (runtime_dir / "processes.json").write_bytes(
            (runtime_dir / "processes.json").read_bytes()[:-1] + b"," + _encode(forged) + b"]"
        )
        async with running_main(runtime_dir) as main:
            status = await main.status()
            assert stale.poll() is not None
            assert unrelated.poll() is None
            assert status.port != 1733
            with socket.create_connection(("127.0.0.1", 1733), timeout=5):
                pass  # whoever holds 1733 still listens: main left it alone
    finally:
        for proc in (stale, unrelated):
            proc.kill()
            proc.wait()
        if stranger is not None:
            stranger.close()


def _listen_on_1733() -> socket.socket | None:
    """A stranger listening on 1733; None if another program holds it already (then it is one)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, as main does
    try:
        sock.bind(("127.0.0.1", 1733))
        sock.listen()
    except OSError:
        sock.close()
        return None
    return sock


def _encode(record: ProcessRecord) -> bytes:
    return msgspec.json.encode(record)


async def test_second_main_is_refused(main_process: MainProcess) -> None:
    """A second main on the same runtime dir exits at once, saying another one runs."""
    argv = main_argv(main_process.endpoints.runtime_dir)
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_CONFIG
    assert "already running" in done.stderr
    assert (await main_process.status()).state == "running"


async def test_pinned_port_in_use_fails_with_clear_message(runtime_dir: Path) -> None:
    """--port N with N taken: exit 1 and a message naming the port and what to do."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            main_argv(runtime_dir, "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        holder.close()
    assert done.returncode == EXIT_CONFIG
    assert f"port {port}" in done.stderr
    assert "--port" in done.stderr


async def test_garbage_on_control_gets_error_replies(main_process: MainProcess) -> None:
    """Malformed requests on control.sock get error replies; main keeps serving."""
    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(main_process.endpoints.control)
    bad = [
        [b"", b"\xff\xfe"],
        [b"", b"[]"],
        [b"", b'{"v": 1, "id": "x", "op": "launch_missiles"}'],
        [b"", b'{"v": 9, "id": "x", "op": "ping"}'],
        [b"", b'{"v": 1, "id": "x", "op": "ping", "args": {"extra": 1}}'],
        [b"", b"a", b"b"],
    ]
    codes = []
    for frames in bad:
        await sock.send_multipart(frames)
        async with asyncio.timeout(5):
            reply = await sock.recv_multipart()
        codes.append(msgspec.json.decode(reply[-1])["error"]["code"])
    sock.close(linger=0)
    assert codes == [
        "bad_request",
        "bad_request",
        "unknown_op",
        "unsupported_version",
        "bad_request",
        "bad_request",
    ]
    assert (await main_process.status()).state == "running"


async def test_stop_and_start_backend(main_process: MainProcess) -> None:
    """stop_backend → stopping, stopped, no backend process; start_backend → running again."""
    first = await main_process.status()
    family = [p.pid for p in main_process.descendants()]
    mark = len(main_process.log.events)
    await main_process.call(MainOps.STOP_BACKEND)
    await main_process.log.wait_for(lambda e: e.state == "stopped", after=mark)
    assert await wait_gone(family, timeout=5.0) == []
    assert (await main_process.port_info()).port == first.port
    mark = len(main_process.log.events)
    await main_process.call(MainOps.START_BACKEND)
    running = await main_process.log.wait_for(lambda e: e.state == "running", after=mark)
    assert running.port == first.port


@asynccontextmanager
async def exiting_main(runtime_dir: Path, *, lifeline: bool = False) -> AsyncIterator[MainProcess]:
    """A main the test itself makes exit; whatever happens, nothing of it is left afterwards."""
    main = await spawn_main(runtime_dir, lifeline=lifeline)
    try:
        yield main
    finally:
        main.control.close()
        main.log.close()
        if main.child.running:
            main.child.kill()
            await main.child.reaped()


async def exits_cleanly(main: MainProcess, family: list[int]) -> None:
    """main has published ``stopped``, exits 0, and leaves none of ``family``."""
    await main.log.wait_for(lambda e: e.state == "stopped" and e.pid is None, timeout=20)
    async with asyncio.timeout(20):
        assert await main.child.reaped() == 0
    assert await wait_gone(family, timeout=5.0) == []


async def test_shutdown_op_stops_backend_replies_and_exits_zero(runtime_dir: Path) -> None:
    """shutdown: the backend is stopped, the caller gets its reply, main exits 0, nothing left."""
    async with exiting_main(runtime_dir) as main:
        family = [p.pid for p in main.descendants()]
        assert (await main.call(MainOps.SHUTDOWN)).accepted
        await exits_cleanly(main, family)


async def test_main_stops_gracefully_when_its_launcher_dies(runtime_dir: Path) -> None:
    """The launcher's lifeline closing (it died) makes main stop its backend and exit 0."""
    async with exiting_main(runtime_dir, lifeline=True) as main:
        family = [p.pid for p in main.descendants()]
        main.child.close_lifeline()
        await exits_cleanly(main, family)


async def test_shutdown_op_and_sigterm_together_exit_zero(runtime_dir: Path) -> None:
    """A shutdown op and a SIGTERM arriving together: one stop, a reply, exit 0."""
    async with exiting_main(runtime_dir) as main:
        family = [p.pid for p in main.descendants()]
        reply = asyncio.ensure_future(main.call(MainOps.SHUTDOWN))
        main.child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert (await reply).accepted
        await exits_cleanly(main, family)


# -- no backend serving: main answers 503 itself --------------------------------------------------


async def get(base_url: str, path: str) -> httpx.Response:
    """One GET; the 5 s timeout is the proof that it does not hang (it raises if it does)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        return await client.get(path)


def unavailable(answer: httpx.Response, state: str) -> dict[str, str]:
    """The error of a 503 ``backend_unavailable`` answer in ``state``; fails on anything else."""
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    error: dict[str, str] = answer.json()["error"]
    assert (error["code"], error["state"]) == ("backend_unavailable", state)
    return error


async def test_give_up_answers_503_and_start_backend_serves_again(runtime_dir: Path) -> None:
    """After a crash-loop give-up every request gets 503 at once; start_backend → served again."""
    data = runtime_dir / "data"
    data.mkdir()
    (data / BROKEN).touch()
    endpoints = Endpoints(runtime_dir)
    log = StatusLog(endpoints)
    argv = main_argv(runtime_dir, "--no-standby", app=STEERED_APP)
    main = MainProcess(await Child.spawn(ChildSpec("main", argv, dict(os.environ))), endpoints, log)
    try:
        error = await log.wait_for(lambda e: e.state == "error", timeout=60.0)
        base_url = (await main.port_info()).base_url
        for path in ("/health", "/api/captures"):
            assert unavailable(await get(base_url, path), "error")["reason"] == error.reason
        (data / BROKEN).unlink()
        mark = len(log.events)
        await main.call(MainOps.START_BACKEND)
        running = await log.wait_for(lambda e: e.state == "running", after=mark)
        answer = await get(base_url, "/health")
        assert answer.status_code == 200
        assert answer.json()["pid"] == running.pid
    finally:
        main.control.close()
        assert await main.child.terminate(20.0) == 0
        log.close()


async def stop_backend(main: MainProcess) -> None:
    """stop_backend, returning once main has published ``stopped``."""
    mark = len(main.log.events)
    await main.call(MainOps.STOP_BACKEND)
    await main.log.wait_for(lambda e: e.state == "stopped", after=mark)


async def start_backend(main: MainProcess) -> int:
    """start_backend, returning once ``starting`` is published: the index of the events since."""
    mark = len(main.log.events)
    await main.call(MainOps.START_BACKEND)
    await main.log.wait_for(lambda e: e.state == "starting", after=mark)
    return mark


async def test_stopped_answers_503_and_a_request_waits_for_a_starting_backend(
    runtime_dir: Path,
) -> None:
    """stop_backend: 503 stopped at once; a request sent while starting waits and gets the 200."""
    async with running_main(runtime_dir, ["--no-standby"], app=STEERED_APP) as main:
        info = await main.port_info()
        await stop_backend(main)
        assert unavailable(await get(info.base_url, "/health"), "stopped")["reason"]
        gate = runtime_dir / "data" / GATE
        gate.touch()  # the backend's start-up waits until the test removes it
        mark = await start_backend(main)
        reader, writer = await asyncio.open_connection("127.0.0.1", info.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n")
        await writer.drain()
        gate.unlink()  # only now can the backend finish starting: a 503 would come before
        async with asyncio.timeout(60):
            answer = await reader.read()
        writer.close()
        running = await main.log.wait_for(lambda e: e.state == "running", after=mark)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["pid"] == running.pid


async def test_starting_longer_than_start_hold_answers_503_starting(runtime_dir: Path) -> None:
    """main.start_hold: past it, a still-starting backend's requests get 503 starting; then 200."""
    config = runtime_dir / "config.toml"
    config.write_text("[main]\nstart_hold = 0.2\n")
    extra = ["--no-standby", "--config", str(config)]
    async with running_main(runtime_dir, extra, app=STEERED_APP) as main:
        base_url = (await main.port_info()).base_url
        await stop_backend(main)
        gate = runtime_dir / "data" / GATE
        gate.touch()  # the backend's start-up waits until the test removes it
        mark = await start_backend(main)
        assert "0.2 s" in unavailable(await get(base_url, "/health"), "starting")["message"]
        gate.unlink()
        running = await main.log.wait_for(lambda e: e.state == "running", after=mark)
        answer = await get(base_url, "/health")
        assert answer.status_code == 200
        assert answer.json()["pid"] == running.pid
