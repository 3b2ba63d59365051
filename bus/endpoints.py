"""The one place for endpoint names, topics, sizes and timeouts of the bus.

Every socket address a ctxbus process binds or connects to comes from :class:`Endpoints`; every
topic name is a constant here. Nothing else in the code base spells a path, port or topic.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

import msgspec

from bus.errors import RuntimeDirError
from bus.runtime_dir import user_runtime_dir

# -- environment ---------------------------------------------------------------------------------
RUNTIME_DIR_ENV = "CTXBUS_RUNTIME_DIR"
TRANSPORT_ENV = "CTXBUS_TRANSPORT"
TCP_BASE_PORT_ENV = "CTXBUS_TCP_BASE_PORT"
APP_NAME = "ctxbus"

# -- endpoint names (files in the runtime dir, or offsets from the tcp base port) ------------------
CONTROL = "control.sock"
EVENTS = "events.sock"
PUBLISH = "publish.sock"
CAPTURE = "capture.sock"
LAUNCHER = "launcher.sock"
INDEXER = "indexer.sock"
_TCP_OFFSETS = {CONTROL: 0, EVENTS: 1, PUBLISH: 2, CAPTURE: 3, LAUNCHER: 4, INDEXER: 5}
# The process that binds each endpoint: the name of the server key pair a client must expect.
BINDERS = {
    CONTROL: "main",
    EVENTS: "main",
    PUBLISH: "main",
    CAPTURE: "capture",
    LAUNCHER: "launcher",
    INDEXER: "indexer",
}
DEFAULT_TCP_BASE_PORT = 17330
LOOPBACK_HOST = "127.0.0.1"  # every ctxbus server binds here, and only here
LOOPBACK_NAMES = (LOOPBACK_HOST, "localhost")  # the Host headers a loopback server accepts

# -- files in the runtime dir beside the sockets ---------------------------------------------------
MAIN_LOCK = "main.lock"  # one main per runtime dir
MAIN_RECORDS = "processes.json"  # the backends main started (pid, create time, command line)
LAUNCHER_LOCK = "launcher.lock"
LAUNCHER_RECORDS = "launcher-processes.json"
CAPTURE_LOCK = "capture.lock"  # one capture process per runtime dir (and so per spool)
INDEXER_LOCK = "indexer.lock"  # one indexer per runtime dir
MAX_IPC_PATH = 107  # sun_path is 108 bytes on Linux, including the NUL

# -- CURVE keys (tcp only; zmq certificate files, see docs/protocol.md §2) ------------------------
CERTIFICATES = "certificates"  # under the runtime dir, mode 0700
SERVER_CERTS = "servers"  # <binder>.key (public) and <binder>.key_secret of each server
CLIENT_CERTS = "clients"  # <role>.key: the public keys a server admits
CLIENT_SECRETS = "private"  # <role>.key_secret: each client's own key pair
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
DEFAULT_CLIENT_ROLE = "client"

# -- topics ----------------------------------------------------------------------------------------
BACKEND_STATUS = "backend.status"
MAIN_HEARTBEAT = "main.heartbeat"
LAUNCHER_HEARTBEAT = "launcher.heartbeat"
COMPONENT_STATUS = "component.status"
CAPTURE_STATUS = "capture.status"
CAPTURE_FRAME = "capture.frame"
INDEXER_STATUS = "indexer.status"

# -- components (``ComponentStatus.component``): the processes the launcher supervises ------------
COMPONENT_MAIN = "main"
COMPONENT_LAUNCHER = "launcher"
COMPONENT_CLI = "cli"
COMPONENT_FRONTEND = "frontend"
COMPONENT_CAPTURE = "capture"
COMPONENT_INDEXER = "indexer"

# -- sizes -----------------------------------------------------------------------------------------
PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 1024 * 1024  # larger requests get a ``too_large`` reply
HARD_MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # larger frames make libzmq drop the peer
EVENT_HWM = 100_000  # events queued per socket before PUB/XPUB start dropping

# -- timeouts (seconds) ----------------------------------------------------------------------------
REQUEST_TIMEOUT = 1.0  # one Lazy Pirate attempt
REQUEST_RETRIES = 3  # attempts in all before BusTimeout
OPTIONAL_PEER_TIMEOUT = 0.3  # one attempt at a peer that may well be absent (launcher, capture)
ABSENT_PEER_TIMEOUT = 0.05  # one attempt at an ipc endpoint whose socket file is missing
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_LIVENESS = 3  # missed heartbeats before a subscriber says the publisher is gone
REPLY_CACHE_TTL = 30.0  # a resent request id gets the first reply for this long
CLOSE_LINGER_MS = 1000  # how long a closing replier may still flush queued replies
MAX_IN_FLIGHT = 64  # concurrent requests per replier before ``busy``

Transport = Literal["ipc", "tcp"]


class TcpHome(msgspec.Struct, frozen=True):
    """Where a tcp endpoint's keys are: its runtime dir, and its name (which says its binder)."""

    runtime_dir: Path
    name: str


_TCP_HOMES: dict[str, TcpHome] = {}


def tcp_home(address: str) -> TcpHome | None:
    """The runtime dir and name behind a tcp ``address`` handed out by :class:`Endpoints`.

    None for an ipc address or a tcp address no :class:`Endpoints` of this process made.
    """
    return _TCP_HOMES.get(address)


def default_runtime_dir() -> Path:
    """``$CTXBUS_RUNTIME_DIR``, else ``ctxbus`` in the user's runtime dir (:mod:`.runtime_dir`)."""
    override = os.environ.get(RUNTIME_DIR_ENV)
    if override:
        return Path(override)
    return user_runtime_dir() / APP_NAME


def ensure_runtime_dir(path: Path) -> Path:
    """Create ``path`` with mode 0700, or check that an existing one is ours and private."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise RuntimeDirError(
            f"cannot create the runtime dir {path}: {exc.strerror}; "
            f"set {RUNTIME_DIR_ENV} to a directory you own"
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeDirError(
            f"the runtime dir {path} is not a directory; remove it or set {RUNTIME_DIR_ENV}"
        )
    if info.st_uid != os.getuid():
        raise RuntimeDirError(
            f"the runtime dir {path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}); "
            f"set {RUNTIME_DIR_ENV} to a directory you own"
        )
    if info.st_mode & 0o077:
        raise RuntimeDirError(
            f"the runtime dir {path} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run `chmod 700 {path}` or set {RUNTIME_DIR_ENV}"
        )
    return path


class Endpoints(msgspec.Struct, frozen=True):
    """Where every bus socket lives, for one runtime dir and transport."""

    runtime_dir: Path
    transport: Transport = "ipc"
    tcp_base_port: int = DEFAULT_TCP_BASE_PORT

    @classmethod
    def from_env(cls, runtime_dir: Path | None = None) -> Endpoints:
        """Endpoints for ``runtime_dir`` (default: :func:`default_runtime_dir`) and the env."""
        raw = os.environ.get(TRANSPORT_ENV, "ipc")
        if raw not in ("ipc", "tcp"):
            raise RuntimeDirError(f"{TRANSPORT_ENV} must be 'ipc' or 'tcp', not {raw!r}")
        transport: Transport = "tcp" if raw == "tcp" else "ipc"
        base = os.environ.get(TCP_BASE_PORT_ENV, str(DEFAULT_TCP_BASE_PORT))
        if not base.isdigit() or not 1024 <= int(base) <= 65530:
            raise RuntimeDirError(f"{TCP_BASE_PORT_ENV} must be a port from 1024 to 65530")
        return cls(runtime_dir or default_runtime_dir(), transport, int(base))

    def address(self, name: str) -> str:
        """The zmq address of endpoint ``name`` (one of the endpoint constants above).

        A tcp address is remembered with its runtime dir and name (:func:`tcp_home`), so that
        the socket helpers find the CURVE keys of the endpoint from the address alone.
        """
        if self.transport == "tcp":
            address = f"tcp://{LOOPBACK_HOST}:{self.tcp_base_port + _TCP_OFFSETS[name]}"
            _TCP_HOMES[address] = TcpHome(self.runtime_dir, name)
            return address
        path = str(self.runtime_dir / name)
        if len(path.encode()) > MAX_IPC_PATH:
            raise RuntimeDirError(
                f"the socket path {path} is longer than {MAX_IPC_PATH} bytes; "
                f"set {RUNTIME_DIR_ENV} to a shorter directory"
            )
        return f"ipc://{path}"

    @property
    def control(self) -> str:
        return self.address(CONTROL)

    @property
    def events(self) -> str:
        return self.address(EVENTS)

    @property
    def publish(self) -> str:
        return self.address(PUBLISH)

    @property
    def capture(self) -> str:
        return self.address(CAPTURE)

    @property
    def launcher(self) -> str:
        return self.address(LAUNCHER)

    @property
    def indexer(self) -> str:
        return self.address(INDEXER)

    def file(self, name: str) -> Path:
        """A non-socket file in the runtime dir (lock, pid records)."""
        return self.runtime_dir / name
