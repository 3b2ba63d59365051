"""CURVE on tcp endpoints: only processes of this user get an answer.

With the ipc transport the 0700 runtime dir keeps other users off the sockets. A tcp port on
127.0.0.1 is open to every local user, so with tcp every bus socket uses CURVE, and the keys live
in that same 0700 dir (``docs/protocol.md`` §2, "Keys"):

- ``certificates/servers/<binder>.key_secret`` (and ``.key``, its public half): the server key pair
  of each binding process (``endpoints.BINDERS``: main for control, events, publish; capture,
  launcher, indexer for their own endpoint);
- ``certificates/private/<role>.key_secret``: a client's key pair, its public half registered as
  ``certificates/clients/<role>.key``. A server admits exactly the keys found in ``clients/``:
  only the user can write there, and that is the authentication ("a process of this user").

Every pair is created on first use by whoever comes first (a new file is linked into place, so
that two processes racing agree on one pair) and kept while the runtime dir lives. The files are
zmq certificate files (``zmq.auth.load_certificate`` reads them), written with mode 0600.

Admission is pyzmq's own ZAP authenticator (``zmq.auth``), one per zmq context, asking
:class:`ClientsDir` whether a key is registered. A refused peer gets no answer at all (the
handshake fails); the refusal is logged once per peer: the authenticator's ``zmq.auth`` log
(unknown key) and a socket monitor (no key: libzmq refuses the handshake before ZAP) both go
through :class:`FirstRefusal` to structlog as ``bus_peer_refused``.

The socket helpers call :func:`protect_server` and :func:`protect_client` with the address: a no-op
unless it is a tcp address handed out by :class:`~bus.endpoints.Endpoints`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

import msgspec
import structlog
import zmq
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.auth.base import Authenticator
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

from bus import endpoints
from bus.errors import BusError, RuntimeDirError, SetupError

log = structlog.get_logger("bus.curve")

MAX_REMEMBERED_PEERS = 4096  # refused peers remembered for the once-per-peer log
_NO_KEY_EVENTS = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
_CERT_TEXT = """#   ZeroMQ CURVE {kind} Certificate, made by ctxbus (see docs/protocol.md §2)

metadata
curve
    public-key = "{public}"
"""

_client_role = endpoints.DEFAULT_CLIENT_ROLE


def set_client_role(role: str) -> None:
    """Name this process's client key pair (``private/<role>.key_secret``); default "client"."""
    global _client_role  # one role per process, set once at start
    _client_role = role


def new_run(runtime_dir: Path) -> None:
    """Forget every key of the runtime dir: the processes started next make new pairs.

    The launcher calls it once at the start of a ``ctxbus up`` run, before it starts anything,
    so each run has its own keys; within a run they stay, since long-lived sockets keep the
    server key they connected with.
    """
    shutil.rmtree(runtime_dir / endpoints.CERTIFICATES, ignore_errors=True)


# -- key files -------------------------------------------------------------------------------------
def _cert_text(public: bytes, secret: bytes | None) -> str:
    text = _CERT_TEXT.format(kind="Secret" if secret else "Public", public=public.decode())
    return text + (f'    secret-key = "{secret.decode()}"\n' if secret else "")


def _write(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to a new 0600 file beside ``path``, then put it in place atomically.

    ``replace=False`` links it (never overwrites: when two processes race, the first pair wins
    and the other loads it); ``replace=True`` renames it over whatever is there.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        pass  # another process's pair is in place: use that one
    finally:
        tmp.unlink(missing_ok=True)


def _directory(runtime_dir: Path, part: str) -> Path:
    path = endpoints.ensure_runtime_dir(runtime_dir)
    for name in (endpoints.CERTIFICATES, part):
        path = path / name
        path.mkdir(mode=0o700, exist_ok=True)
    return path


class Keys(msgspec.Struct, frozen=True):
    """One CURVE key pair, Z85-encoded (40 characters each)."""

    public: bytes
    secret: bytes

    @classmethod
    def load_or_create(cls, runtime_dir: Path, role: str) -> Keys:
        """The client pair of ``role``, created if missing; its public key is registered."""
        keys = cls._pair(_directory(runtime_dir, endpoints.CLIENT_SECRETS) / role)
        keys._publish(_directory(runtime_dir, endpoints.CLIENT_CERTS) / role)
        return keys

    @classmethod
    def server(cls, runtime_dir: Path, binder: str) -> Keys:
        """The server pair of ``binder`` (``endpoints.BINDERS``), created if missing."""
        base = _directory(runtime_dir, endpoints.SERVER_CERTS) / binder
        keys = cls._pair(base)
        keys._publish(base)
        return keys

    @classmethod
    def _pair(cls, base: Path) -> Keys:
        path = base.with_name(base.name + endpoints.SECRET_SUFFIX)
        try:
            if not path.exists():
                public, secret = zmq.curve_keypair()
                _write(path, _cert_text(public, secret), replace=False)
            public, secret_or_none = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as exc:
            raise RuntimeDirError(
                f"cannot read or create the bus key {path}: {exc}; check that the runtime dir "
                f"is yours, or remove {path} to make a new key"
            ) from exc
        if secret_or_none is None:
            raise RuntimeDirError(f"the bus key {path} holds no secret key; remove it")
        return cls(public, secret_or_none)

    def _publish(self, base: Path) -> None:
        """Write the public certificate ``<base>.key`` unless it already says this key."""
        path = base.with_name(base.name + endpoints.PUBLIC_SUFFIX)
        try:
            if zmq.auth.load_certificate(path)[0] == self.public:
                return
        except (OSError, ValueError):
            pass  # missing or unreadable: write it
        _write(path, _cert_text(self.public, None), replace=True)


# -- admission -------------------------------------------------------------------------------------
class FirstRefusal(logging.Filter):
    """Let through the first refusal of each peer (a key, or an endpoint for key-less peers).

    A refused client retries its handshake every reconnect interval; one line says enough.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, peer: str) -> bool:
        with self._lock:
            if peer in self._seen:
                return False
            if len(self._seen) >= MAX_REMEMBERED_PEERS:
                self._seen.clear()
            self._seen.add(peer)
            return True

    def filter(self, record: logging.LogRecord) -> bool:
        """``zmq.auth`` records: warnings and errors pass; of the rest, first ``DENIED`` per key."""
        if record.levelno >= logging.WARNING:
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        return len(args) == 3 and args[0] == "DENIED" and self.first(str(args[2]))


class _ToStructlog(logging.Handler):
    """``zmq.auth`` records as structlog events (a refusal: ``bus_peer_refused``)."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 3 and args[0] == "DENIED":
            key = args[2].decode() if isinstance(args[2], bytes) else str(args[2])
            log.warning("bus_peer_refused", reason="unknown_key", key=key, runtime_dir=args[1])
        else:
            log.warning("zmq_auth_said", message=record.getMessage())


REFUSALS = FirstRefusal()


def _route_auth_log() -> None:
    logger = logging.getLogger("zmq.auth")
    if any(isinstance(handler, _ToStructlog) for handler in logger.handlers):
        return
    handler = _ToStructlog()
    handler.addFilter(REFUSALS)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)  # refusals are DEBUG records; the filter keeps only those
    logger.propagate = False


class ClientsDir(msgspec.Struct):
    """pyzmq's credentials provider: is this key in ``clients/``? Re-read when the dir changes."""

    path: Path
    _stamp: int = -1
    _keys: dict[bytes, bool] = msgspec.field(default_factory=dict)

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether ``key`` (Z85) is registered; a miss reads the dir again (a key just added)."""
        try:
            stamp = self.path.stat().st_mtime_ns
            if stamp != self._stamp or key not in self._keys:
                self._keys, self._stamp = zmq.auth.load_certificates(self.path), stamp
        except (OSError, ValueError) as exc:
            log.warning("bus_clients_unreadable", path=str(self.path), error=str(exc))
            return False
        return key in self._keys


class _Gate(msgspec.Struct):
    context: zmq.Context[Any]
    authenticator: Authenticator
    loop: asyncio.AbstractEventLoop | None
    domains: set[str] = msgspec.field(default_factory=set)


_gates: dict[int, _Gate] = {}
_gates_lock = threading.Lock()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _stop(gate: _Gate) -> None:
    try:
        gate.authenticator.stop()
    except RuntimeError:  # an asyncio authenticator whose loop is closed: its task is gone
        if gate.authenticator.zap_socket is not None:
            gate.authenticator.zap_socket.close(linger=0)


def _gate(context: zmq.Context[Any]) -> _Gate:
    """The authenticator of ``context``: asyncio on the running loop, else a thread."""
    loop = _running_loop()
    gate = _gates.get(context.underlying)
    if gate is not None and not gate.context.closed:
        if gate.loop is loop or (gate.loop is None and loop is None):
            return gate
        _stop(gate)  # started on a loop that is gone (a new asyncio.run): start again
    _route_auth_log()
    auth: Authenticator = AsyncioAuthenticator(context) if loop else ThreadAuthenticator(context)
    auth.start()
    gate = _Gate(context, auth, loop)
    _gates[context.underlying] = gate
    return gate


def admit_clients(context: zmq.Context[Any], runtime_dir: Path) -> str:
    """Make ``context`` admit the keys in ``runtime_dir``'s ``clients/``; the ZAP domain to use."""
    domain = str(runtime_dir)
    with _gates_lock:
        gate = _gate(context)
        if domain not in gate.domains:
            clients = _directory(runtime_dir, endpoints.CLIENT_CERTS)
            gate.authenticator.configure_curve_callback(domain, ClientsDir(clients))
            gate.domains.add(domain)
    return domain


def release(context: zmq.Context[Any]) -> None:
    """Stop ``context``'s authenticator (before terminating a context of one's own)."""
    with _gates_lock:
        gate = _gates.pop(context.underlying, None)
    if gate is not None:
        _stop(gate)


# -- sockets ---------------------------------------------------------------------------------------
def _watch_handshakes(sock: zmq.Socket[Any], address: str) -> None:
    """Log the first key-less handshake refused on ``sock`` (libzmq refuses those before ZAP)."""
    inproc = f"inproc://ctxbus-curve-monitor-{secrets.token_hex(8)}"
    sock.monitor(inproc, _NO_KEY_EVENTS | zmq.EVENT_MONITOR_STOPPED)
    pair: zmq.Socket[bytes] = zmq.Socket(sock.context, zmq.PAIR)
    pair.connect(inproc)
    threading.Thread(target=_watch, args=(pair, address), daemon=True, name=inproc).start()


def _watch(pair: zmq.Socket[bytes], address: str) -> None:
    try:
        while True:
            event = parse_monitor_message(pair.recv_multipart())["event"]
            if event == zmq.EVENT_MONITOR_STOPPED:
                return
            if REFUSALS.first(f"{address} no key"):
                log.warning("bus_peer_refused", reason="no_key", endpoint=address)
    except zmq.ZMQError:
        return  # the context is ending
    finally:
        pair.close(linger=0)


def secure_server(sock: zmq.Socket[Any], keys: Keys, runtime_dir: Path) -> None:
    """Make ``sock`` (before it binds) a CURVE server admitting ``runtime_dir``'s clients."""
    sock.setsockopt(zmq.ZAP_DOMAIN, admit_clients(sock.context, runtime_dir).encode())
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SERVER, 1)


def secure_client(sock: zmq.Socket[Any], server_public: bytes, keys: Keys) -> None:
    """Make ``sock`` (before it connects) a CURVE client of the server with ``server_public``."""
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_public)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)


def protect_server(sock: zmq.Socket[Any], address: str) -> None:
    """Before binding ``address``: CURVE with this endpoint's server keys if it is tcp.

    A tcp address without keys (not from :class:`~bus.endpoints.Endpoints`) is a
    :class:`SetupError`; on any error ``sock`` is closed.
    """
    home = endpoints.tcp_home(address)
    if home is None and not address.startswith("tcp://"):
        return
    try:
        if home is None:  # fail closed: never serve tcp without CURVE
            raise SetupError(
                f"no CURVE keys for {address}: bind tcp endpoints by addresses that "
                "bus.Endpoints gave (Endpoints(runtime_dir, 'tcp', base).control, ...)"
            )
        keys = Keys.server(home.runtime_dir, endpoints.BINDERS[home.name])
        secure_server(sock, keys, home.runtime_dir)
    except BusError:
        sock.close(linger=0)  # the caller's socket: it would serve nobody now
        raise
    _watch_handshakes(sock, address)


def protect_client(sock: zmq.Socket[Any], address: str) -> None:
    """Before connecting to ``address``: CURVE with this process's client keys if it is tcp.

    On an error (the keys cannot be read or made) ``sock`` is closed.
    """
    home = endpoints.tcp_home(address)
    if home is None:
        return
    try:
        server = Keys.server(home.runtime_dir, endpoints.BINDERS[home.name])
        secure_client(sock, server.public, Keys.load_or_create(home.runtime_dir, _client_role))
    except BusError:
        sock.close(linger=0)  # the caller's socket: it could reach nobody now
        raise
