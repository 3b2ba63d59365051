"""CURVE on tcp: only clients whose key is in the runtime dir get answers; ipc is unchanged."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import pwd
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
import zmq
import zmq.asyncio

from bus import Endpoints, curve
from bus.codec import encode_request
from bus.endpoints import (
    CERTIFICATES,
    CLIENT_CERTS,
    CLIENT_SECRETS,
    MAIN_HEARTBEAT,
    SERVER_CERTS,
)
from bus.errors import BusTimeout, SetupError
from bus.messages import Heartbeat, NoArgs, PingResult
from bus.ops import MainOps
from bus.proxy import Proxy
from bus.publisher import Publisher
from bus.replier import Replier
from bus.requester import AsyncRequester
from bus.subscriber import subscribe, topic_of
from tests.bus.conftest import READY_TIMEOUT, free_tcp_base

QUIET = 1.0  # seconds a refused client watches for an answer that must not come
FAILURES = 3  # refused handshakes a client makes before the test counts the log lines
DEADLINE = 20.0
NOBODY = "nobody"


async def _pong(_: NoArgs) -> PingResult:
    return PingResult(pid=os.getpid(), instance="curve-test", uptime_s=0.0)


@pytest.fixture
def tcp(runtime_dir: Path) -> Endpoints:
    """The test's endpoints over tcp on free loopback ports."""
    return Endpoints(runtime_dir, "tcp", free_tcp_base())


@pytest.fixture
async def served(tcp: Endpoints) -> AsyncIterator[Endpoints]:
    """A replier answering ``ping`` on the tcp control endpoint, in this test's loop."""
    replier = Replier(tcp.control)
    replier.register(MainOps.PING, _pong)
    task = asyncio.create_task(replier.serve())
    try:
        yield tcp
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        curve.release(zmq.asyncio.Context.instance())


class RawClient:
    """REQ sockets of a client outside the bus code: CURVE with ``keys`` if given, else none."""

    def __init__(self, address: str, keys: curve.Keys | None, server: bytes = b"") -> None:
        self.address, self.keys, self.server = address, keys, server
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()

    def ping(self, timeout: float) -> bytes | None:
        """The reply to a ping within ``timeout`` seconds, or None."""
        sock = self._socket()
        try:
            sock.connect(self.address)
            sock.send(encode_request("r1", "ping", None))
            return sock.recv() if sock.poll(int(timeout * 1000)) else None
        finally:
            sock.close(linger=0)

    def refused(self) -> bool:
        """Whether one connection's handshake fails (the monitor says so within the deadline)."""
        sock = self._socket()
        monitor = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        )
        try:
            sock.connect(self.address)
            return bool(monitor.poll(int(DEADLINE * 1000)))
        finally:
            monitor.close(linger=0)
            sock.close(linger=0)

    def _socket(self) -> zmq.Socket[bytes]:
        sock = self.context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        if self.keys is not None:
            curve.secure_client(sock, self.server, self.keys)
        return sock

    def close(self) -> None:
        self.context.destroy(linger=0)


async def _refused_every_time(client: RawClient) -> None:
    """No answer to a ping, and ``FAILURES`` connections whose handshake fails."""
    try:
        assert await asyncio.to_thread(client.ping, QUIET) is None, "a refused client got data"
        for _ in range(FAILURES):
            assert await asyncio.to_thread(client.refused)
    finally:
        client.close()


async def _ping(address: str) -> PingResult:
    requester = AsyncRequester(address)
    try:
        return await requester.call(MainOps.PING)
    finally:
        requester.close()


def _refusals(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "bus_peer_refused"]


async def test_a_registered_key_gets_answers(served: Endpoints) -> None:
    """A requester of this user, over tcp, is answered: its key pair is in the runtime dir."""
    result = await _ping(served.control)
    assert result.instance == "curve-test"
    registered = served.runtime_dir / CERTIFICATES / CLIENT_CERTS / "client.key"
    assert curve.Keys.load_or_create(served.runtime_dir, "client").public in registered.read_bytes()


async def test_key_files_are_private(served: Endpoints) -> None:
    """Key dirs are 0700, key files 0600: only the user reads or adds keys."""
    await _ping(served.control)
    root = served.runtime_dir / CERTIFICATES
    dirs = [root, *(root / part for part in (SERVER_CERTS, CLIENT_CERTS, CLIENT_SECRETS))]
    assert {stat.S_IMODE(path.stat().st_mode) for path in dirs} == {0o700}
    files = [path for path in root.rglob("*") if path.is_file()]
    assert {path.name for path in files} == {
        "main.key",
        "main.key_secret",
        "client.key",
        "client.key_secret",
    }
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}


async def test_an_unknown_key_gets_no_answer_and_one_log_line(served: Endpoints) -> None:
    """A key pair not in clients/: no answer; the server logs one refusal for all its tries."""
    server = curve.Keys.server(served.runtime_dir, "main").public
    public, secret = zmq.curve_keypair()
    with structlog.testing.capture_logs() as logs:
        await _refused_every_time(RawClient(served.control, curve.Keys(public, secret), server))
    assert [(e["reason"], e["key"]) for e in _refusals(logs)] == [("unknown_key", public.decode())]


async def test_no_key_gets_no_answer_and_one_log_line(served: Endpoints) -> None:
    """A client without CURVE: no answer; the server logs one refusal for all its tries."""
    with structlog.testing.capture_logs() as logs:
        await _refused_every_time(RawClient(served.control, None))
    assert [(e["reason"], e["endpoint"]) for e in _refusals(logs)] == [("no_key", served.control)]


async def test_a_key_less_requester_times_out(served: Endpoints) -> None:
    """The bus's own requester without keys (an address no Endpoints made) gets BusTimeout."""
    port = served.control.rsplit(":", 1)[1]
    requester = AsyncRequester(f"tcp://localhost:{port}", timeout=QUIET, retries=1)
    with pytest.raises(BusTimeout):
        await requester.call(MainOps.PING)
    requester.close()


async def test_a_key_registered_later_gets_in(served: Endpoints) -> None:
    """A client whose public key lands in clients/ after the server started is admitted."""
    await _ping(served.control)  # the server has read clients/ by now
    late = curve.Keys.load_or_create(served.runtime_dir, "late")
    client = RawClient(served.control, late, curve.Keys.server(served.runtime_dir, "main").public)
    try:
        reply = await asyncio.to_thread(client.ping, DEADLINE)
    finally:
        client.close()
    assert reply is not None
    assert b'"ok":true' in reply


def _create_keys(runtime_dir: Path, out: mp.Queue[bytes]) -> None:
    out.put(curve.Keys.load_or_create(runtime_dir, "client").public)


def test_racing_creators_agree_on_one_pair(runtime_dir: Path) -> None:
    """Processes creating the same key pair at once all end up with the same, registered, key."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[bytes] = ctx.Queue()
    procs = [ctx.Process(target=_create_keys, args=(runtime_dir, out)) for _ in range(4)]
    for proc in procs:
        proc.start()
    keys = {out.get(timeout=READY_TIMEOUT) for _ in procs}
    for proc in procs:
        proc.join(READY_TIMEOUT)
    assert len(keys) == 1
    registered = runtime_dir / CERTIFICATES / CLIENT_CERTS / "client.key"
    assert keys.pop() in registered.read_bytes()


def test_a_tcp_server_without_keys_refuses_to_bind() -> None:
    """A tcp address no Endpoints gave (so no keys known) is never served without CURVE."""
    replier = Replier(f"tcp://127.0.0.1:{free_tcp_base()}")
    with pytest.raises(SetupError, match="CURVE"):
        replier.bind()


async def test_ipc_needs_no_keys(runtime_dir: Path) -> None:
    """Over ipc a plain client is answered and no key is made: the 0700 dir is the guard."""
    endpoints = Endpoints(runtime_dir)
    replier = Replier(endpoints.control)
    replier.register(MainOps.PING, _pong)
    task = asyncio.create_task(replier.serve())
    client = RawClient(endpoints.control, None)
    try:
        reply = await asyncio.to_thread(client.ping, DEADLINE)
    finally:
        client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert reply is not None
    assert b'"ok":true' in reply
    assert not (runtime_dir / CERTIFICATES).exists()


async def _next_heartbeat(sock: zmq.Socket[bytes], publisher: Publisher) -> bool:
    """Publish heartbeats until ``sock`` gets one (a SUB joins late); False at the deadline."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        await publisher.publish(MAIN_HEARTBEAT, Heartbeat(backend_seq=0))
        if await asyncio.to_thread(sock.poll, 100):
            return topic_of(sock.recv_multipart()) == MAIN_HEARTBEAT
    return False


async def test_events_reach_keyed_subscribers_only(tcp: Endpoints) -> None:
    """Through main's proxy over tcp, a keyed SUB gets events and a key-less SUB gets none."""
    proxy = Proxy(tcp.publish, tcp.events)
    task = asyncio.create_task(proxy.run())
    publisher = Publisher(tcp.publish)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        await proxy.wait_bound()
        keyed = subscribe(context, tcp.events, [MAIN_HEARTBEAT])
        stranger = context.socket(zmq.SUB)
        stranger.connect(tcp.events)
        stranger.subscribe(b"")
        assert await _next_heartbeat(keyed, publisher)
        assert not await asyncio.to_thread(stranger.poll, int(QUIET * 1000))
    finally:
        publisher.close()
        context.destroy(linger=0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# Started as root (the interpreter lives under /root), it becomes ``nobody`` before it reads a
# file of the runtime dir or opens a socket.
_AS_ANOTHER_USER = """
import json, os, pwd, sys, zmq
user = pwd.getpwnam(sys.argv[4])
os.setgroups([])
os.setgid(user.pw_gid)
os.setuid(user.pw_uid)
address, server, runtime_dir = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
out = {"uid": os.getuid()}
try:
    open(runtime_dir + "/certificates/clients/client.key").read()
    out["read_keys"] = True
except OSError:
    out["read_keys"] = False
ctx = zmq.Context()
for name, keyed in (("no_key", False), ("own_key", True)):
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    if keyed:
        sock.curve_serverkey = server
        sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
    sock.connect(address)
    sock.send(b'{"v":1,"id":"r1","op":"ping"}')
    out[name] = bool(sock.poll(%d))
ctx.destroy(linger=0)
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
async def test_another_local_user_gets_no_answer(served: Endpoints) -> None:
    """A client run as another user reads no key; even knowing the server key, gets no answer."""
    server = curve.Keys.server(served.runtime_dir, "main").public.decode()
    script = _AS_ANOTHER_USER % int(QUIET * 1000)
    argv = [sys.executable, "-c", script, served.control, server, str(served.runtime_dir), NOBODY]
    # No timeout here: the script's own waits are bounded; pytest's per-test timeout backs them.
    ran = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    nobody = pwd.getpwnam(NOBODY).pw_uid
    assert json.loads(ran.stdout) == {
        "uid": nobody,
        "read_keys": False,
        "no_key": False,
        "own_key": False,
    }


def test_a_new_run_makes_new_keys(runtime_dir: Path) -> None:
    """After new_run (the launcher's start), servers and clients get fresh pairs; old ones go."""
    server = curve.Keys.server(runtime_dir, "main")
    client = curve.Keys.load_or_create(runtime_dir, "frontend")
    assert curve.Keys.server(runtime_dir, "main") == server  # stable within a run
    curve.new_run(runtime_dir)
    assert curve.Keys.server(runtime_dir, "main").public != server.public
    assert curve.Keys.load_or_create(runtime_dir, "frontend").public != client.public
    registered = list((runtime_dir / "certificates" / "clients").iterdir())
    assert [path.name for path in registered] == ["frontend.key"]
