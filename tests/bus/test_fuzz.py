"""Hostile input against a replier in its own process, over ipc and tcp: one reply each, alive."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import socket
import tempfile
from collections.abc import Iterator
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq

from bus import Endpoints, curve, ensure_runtime_dir
from bus.endpoints import HARD_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES
from bus.errors import ERROR_CODES
from tests.bus.children import ReplierSettings, serve
from tests.bus.conftest import Children, free_tcp_base, wait_for

REPLY_TIMEOUT_MS = 10_000
QUIET_MS = 500  # how long "no reply" is watched for


class Reply(msgspec.Struct, forbid_unknown_fields=True):
    """The reply envelope, strictly: exactly the fields docs/protocol.md lists."""

    v: int
    id: str | None
    ok: bool
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None


class Wire:
    """A DEALER on the replier's endpoint: send any frames, read exactly one reply."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sock = self._open()
        self.pings = 0

    def _open(self) -> zmq.Socket[bytes]:
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, REPLY_TIMEOUT_MS)
        curve.protect_client(sock, self.address)  # over tcp: this user's client keys
        sock.connect(self.address)
        return sock

    def ask(self, *frames: bytes) -> Reply:
        """Send ``frames`` as one request (after REQ's empty delimiter); the next reply.

        A second reply to any request would be taken for the next request's: :meth:`ping`
        checks its reply's id, so it catches that.
        """
        self.sock.send_multipart([b"", *frames])
        return self.ask_reply()

    def ask_reply(self) -> Reply:
        """The next reply on the connection, checked against the envelope rules."""
        delimiter, *body = self.sock.recv_multipart()
        assert delimiter == b""
        assert len(body) == 1, "a reply is one frame"
        reply = msgspec.json.decode(body[0], type=Reply)
        assert reply.v == 1
        assert (reply.result is None) == (not reply.ok)
        assert (reply.error is None) == reply.ok
        if reply.error is not None:
            assert set(reply.error) == {"code", "message"}
            assert reply.error["code"] in ERROR_CODES
            assert reply.error["message"]
        return reply

    def error(self, *frames: bytes) -> str:
        reply = self.ask(*frames)
        assert reply.error is not None, f"expected an error reply, got {reply}"
        return reply.error["code"]

    def ping(self) -> None:
        """The server answers, and this reply is the ping's (no stray reply came before it)."""
        self.pings += 1
        reply = self.ask(request("ping", f"ping-{self.pings}"))
        assert (reply.ok, reply.id) == (True, f"ping-{self.pings}"), reply

    def reopen(self) -> None:
        """A fresh connection, after one the server dropped."""
        self.sock.close(linger=0)
        self.sock = self._open()

    def close(self) -> None:
        self.sock.close(linger=0)
        self.context.term()


def request(op: str, request_id: str = "r1", **fields: Any) -> bytes:
    return json.dumps({"v": 1, "id": request_id, "op": op, **fields}).encode()


@pytest.fixture(scope="module", params=["ipc", "tcp"])
def served(request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    """One test replier process per transport, shared by this module's tests.

    Sharing it is part of the point: every test ends with a ping, so each one also checks that
    whatever the earlier ones sent left the server serving.
    """
    path = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp"))
    path.chmod(0o700)
    endpoints = Endpoints(ensure_runtime_dir(path))
    if request.param == "tcp":
        endpoints = Endpoints(path, "tcp", free_tcp_base())
    kids = Children()
    try:
        ready = kids.event()
        entered: Queue[str] = kids.context.Queue()
        settings = ReplierSettings(endpoints.control, hold=True, endpoints=endpoints)
        kids.start(serve, settings, ready, entered)
        wait_for(ready, "the replier binding")
        yield endpoints
    finally:
        kids.stop_all()
        shutil.rmtree(path, ignore_errors=True)
    assert all(proc.exitcode is not None for proc in kids.started)


@pytest.fixture
def wire(served: Endpoints) -> Iterator[Wire]:
    """A fresh DEALER connection to the shared replier."""
    connection = Wire(served.control)
    yield connection
    connection.close()


def test_valid_requests_get_their_results(wire: Wire) -> None:
    """The baseline: well-formed requests are answered ok, with the request's id."""
    reply = wire.ask(request("echo", "abc", args={"text": "hi", "times": 2}))
    assert (reply.ok, reply.id, reply.result) == (True, "abc", {"text": "hihi"})
    assert wire.ask(request("ping", "x" * 64)).id == "x" * 64


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        pytest.param([b"a", b"b"], "bad_request", id="multipart"),
        pytest.param([b""], "bad_request", id="empty"),
        pytest.param([b'{"v":1,"id":"a\xff\xfe","op":"ping"}'], "bad_request", id="invalid-utf8"),
        pytest.param([b"\xc3\x28"], "bad_request", id="invalid-utf8-bare"),
        pytest.param([b"[" * 10_000 + b"]" * 10_000], "bad_request", id="deep-arrays"),
        pytest.param(
            [request("ping", args={"a": json.loads("[" * 500 + "]" * 500)})],
            "bad_request",
            id="nested-args",
        ),
        pytest.param(
            [b'{"v":1,"id":"a","op":"ping","x":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001],
            "bad_request",
            id="deep-objects",
        ),
        pytest.param([request("ping", "x" * 100_000)], "bad_request", id="100k-id"),
        pytest.param([request("p" * 100_000)], "bad_request", id="100k-op"),
        pytest.param([b"null"], "bad_request", id="null"),
        pytest.param([b"[1, 2]"], "bad_request", id="array"),
        pytest.param([b'"ping"'], "bad_request", id="string"),
        pytest.param([b'{"v":1,"id":"a","op":"ping"} trailing'], "bad_request", id="trailing"),
        pytest.param([b'{"v":"1","id":"a","op":"ping"}'], "bad_request", id="v-string"),
        pytest.param([b'{"v":1,"id":7,"op":"ping"}'], "bad_request", id="id-int"),
        pytest.param([b'{"v":1,"id":"","op":"ping"}'], "bad_request", id="id-empty"),
        pytest.param([b'{"v":1,"id":"a","op":["ping"]}'], "bad_request", id="op-list"),
        pytest.param([b'{"v":1,"id":"a"}'], "bad_request", id="op-missing"),
        pytest.param([request("ping", args=[])], "bad_request", id="args-list"),
        pytest.param([request("ping", extra=1)], "bad_request", id="unknown-field"),
        pytest.param([request("echo", args={"text": 5})], "bad_request", id="args-wrong-type"),
        pytest.param([request("echo", args={"text": "a", "x": 1})], "bad_request", id="args-extra"),
        pytest.param([request("echo", args={})], "bad_request", id="args-missing"),
        pytest.param([b'{"v":2,"id":"a","op":"ping"}'], "unsupported_version", id="v2"),
        pytest.param([request("nope")], "unknown_op", id="unknown-op"),
        pytest.param([request("refuse")], "not_running", id="op-error"),
        pytest.param([request("crash")], "internal", id="handler-bug"),
        pytest.param([b"x" * (2 * 1024 * 1024)], "too_large", id="2mib-garbage"),
        pytest.param(
            [request("echo", args={"text": "x" * (2 * 1024 * 1024)})], "too_large", id="2mib-json"
        ),
    ],
)
def test_each_bad_request_gets_one_error_reply(wire: Wire, frames: list[bytes], code: str) -> None:
    """Malformed, hostile or failing requests get exactly one error reply of the right code."""
    assert wire.error(*frames) == code
    wire.ping()


def test_error_replies_carry_the_id_when_it_is_readable(wire: Wire) -> None:
    """An error reply echoes a readable request id, and is null when the id is unreadable."""
    assert wire.ask(request("nope", "mine")).id == "mine"
    assert wire.ask(b'{"v":1,"id":"mine","op":"p' + b"x" * MAX_MESSAGE_BYTES + b'"}').id == "mine"
    assert wire.ask(b"not json").id is None
    assert wire.ask(request("ping", "x" * 65)).id is None


def test_a_100kb_string_argument_is_served(wire: Wire) -> None:
    """Large but legal (under 1 MiB) arguments are answered normally."""
    reply = wire.ask(request("echo", args={"text": "é" * 50_000}))
    assert reply.result == {"text": "é" * 50_000}


def test_random_frames_each_get_one_reply(wire: Wire) -> None:
    """1,000 random frames (bytes, JSON-ish, mutated requests): one valid reply each."""
    rng = random.Random(20261128)
    valid = request("echo", args={"text": "ok"})
    for _ in range(1000):
        kind = rng.randrange(3)
        if kind == 0:
            frame = rng.randbytes(rng.randrange(1, 200))
        elif kind == 1:
            mutated = bytearray(valid)
            for _ in range(rng.randrange(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            frame = bytes(mutated)
        else:
            frame = valid[: rng.randrange(len(valid))] or b"{"
        parts = [frame] * rng.choice([1, 1, 1, 2])
        wire.ask(*parts)
    wire.ping()


def test_a_frame_over_the_hard_limit_drops_the_peer_not_the_server(wire: Wire) -> None:
    """A frame over 16 MiB gets no reply (libzmq drops that connection); others are served."""
    wire.sock.send_multipart([b"", b"x" * (HARD_MAX_MESSAGE_BYTES + 1)])
    assert not wire.sock.poll(QUIET_MS)
    wire.reopen()
    wire.ping()


def test_busy_when_too_many_requests_are_in_flight(
    children: Children, endpoints: Endpoints
) -> None:
    """Past max_in_flight and max_queued, a request gets ``busy`` at once; held ones stay."""
    ready = children.event()
    entered: Queue[str] = children.context.Queue()
    settings = ReplierSettings(endpoints.control, hold=True, max_in_flight=2, max_queued=1)
    children.start(serve, settings, ready, entered)
    wait_for(ready, "the replier binding")
    wire = Wire(endpoints.control)
    try:
        for n in range(2):
            wire.sock.send_multipart([b"", request("hold", f"h{n}")])
            assert entered.get(timeout=REPLY_TIMEOUT_MS / 1000) == "hold"
        wire.sock.send_multipart([b"", request("ping", "queued")])
        reply = wire.ask(request("ping", "fourth"))
        assert reply.error is not None
        assert (reply.id, reply.error["code"]) == ("fourth", "busy")
    finally:
        wire.close()


def test_raw_garbage_connections_leave_the_server_serving(wire: Wire, served: Endpoints) -> None:
    """Non-ZMTP bytes and a broken greeting on raw sockets: the replier still answers pings."""
    rng = random.Random(7)
    payloads = [
        rng.randbytes(64),
        rng.randbytes(70_000),
        b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00NULL" + b"\x00" * 16,  # a ZMTP 3 greeting, cut
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for payload in payloads:
        with _raw_connection(served.control) as raw, contextlib.suppress(OSError):
            raw.sendall(payload)  # the server may hang up before it has read everything
        wire.ping()


def _raw_connection(address: str) -> socket.socket:
    """A plain socket connected to a zmq endpoint, below ZeroMQ's framing."""
    scheme, _, where = address.partition("://")
    if scheme == "ipc":
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(where)
        return raw
    host, _, port = where.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=5)
