"""`ctxbus up` over tcp: the app runs on CURVE; a client without this user's keys gets nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import zmq

from bus import Endpoints
from bus import endpoints as names
from bus.codec import encode_request
from tests.bus.conftest import free_tcp_base
from tests.integration.test_launcher import STOP_DEADLINE, alive, running_up
from tests.services.cli.conftest import ctxbus

QUIET = 1.0  # seconds a key-less client watches for an answer that must not come
LOG_DEADLINE = 20.0


def _unanswered(address: str, op: str) -> bool:
    """A plain REQ (no CURVE, as another local user would have) gets no reply to ``op``."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        sock = context.socket(zmq.REQ)
        sock.connect(address)
        sock.send(encode_request("probe", op, None))
        return not sock.poll(int(QUIET * 1000))
    finally:
        context.destroy(linger=0)


def _refusals(log: Path, endpoint: str) -> list[dict[str, object]]:
    lines = log.read_text().splitlines() if log.exists() else []
    entries = [json.loads(line) for line in lines if "bus_peer_refused" in line]
    return [entry for entry in entries if entry.get("endpoint") == endpoint]


async def _refusals_logged(log: Path, endpoint: str) -> list[dict[str, object]]:
    """main's ``bus_peer_refused`` lines for ``endpoint``, once there is one (or the deadline)."""
    deadline = time.monotonic() + LOG_DEADLINE
    while True:
        found = await asyncio.to_thread(_refusals, log, endpoint)
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)  # sleep-ok: polling a log file another process writes


async def test_up_over_tcp_serves_its_user_and_no_one_else(runtime_dir: Path) -> None:
    """tcp `ctxbus up`: status answers; a key-less get_port / get_components get no reply."""
    base = free_tcp_base()
    tcp = {names.TRANSPORT_ENV: "tcp", names.TCP_BASE_PORT_ENV: str(base)}
    bus = Endpoints(runtime_dir, "tcp", base)
    async with running_up(runtime_dir, env=tcp) as up:
        family = up.tree()
        ran = await ctxbus(runtime_dir, "status", "--json", env=tcp)
        assert ran.code == 0, ran.err
        report = json.loads(ran.out)
        assert report["backend"]["state"] == "running"
        states = {c["component"]: c["state"] for c in report["components"]}
        assert states["main"] == states["frontend"] == "running"
        assert await asyncio.to_thread(_unanswered, bus.control, "get_port")
        assert await asyncio.to_thread(_unanswered, bus.launcher, "get_components")
        refusals = await _refusals_logged(runtime_dir / "log" / "main.log", bus.control)
        assert [entry["reason"] for entry in refusals] == ["no_key"]
        up.proc.send_signal(signal.SIGTERM)
        assert await up.wait(STOP_DEADLINE) == 0
        assert alive(family) == []
