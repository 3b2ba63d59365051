"""The one exception tree of ctxbus.

Every error a ctxbus process raises on purpose is a ``BusError``; foreign errors (zmq, msgspec,
httpx, mss, OS) are mapped at the boundary with ``raise ... from exc``. The classes below the
bus's own live with the code that raises them::

    BusError
    ├── BusTimeout          no reply after every Lazy Pirate retry
    ├── BadReply            a reply that breaks the wire contract (unreadable, wrong id, wrong type)
    ├── RemoteError         the peer answered ``ok: false``; ``.code`` is the wire error code
    ├── ProtocolError       a frame we received breaks the contract; ``.code`` says how
    ├── OpError             raised by an op handler to send a chosen error reply
    ├── TransportError      a socket operation failed (a zmq error other than a missed reply)
    ├── SetupError          the process cannot run as set up: its entry point exits 78 (EX_CONFIG)
    │   ├── RuntimeDirError         the runtime dir is missing, unsafe or unusable
    │   └── ConfigError             a configuration value (services.foundation.config)
    └── ServiceError        part of a process's work cannot be done now: reported, retried
        ├── BackendUnavailable      no backend to talk to (services.foundation.backend_client)
        │   └── UploadFailed        a shot was not stored (services.capture.posting)
        ├── GrabError               the screen cannot be grabbed (services.capture.grabber)
        └── SpoolError              a spool file cannot be written (services.capture.spool)

Two boundaries keep trees of their own, mapped where they meet the outside: the backend's
``ApiError`` tree (``backend/errors.py``), one class per HTTP error envelope, and its
``ContractError`` (``backend/server.py``: spawned without a valid spawn contract, exit 78). The
backend imports nothing of the bus, which keeps its start-up lean.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorCode = Literal[
    "bad_request",
    "unsupported_version",
    "unknown_op",
    "too_large",
    "not_running",
    "busy",
    "internal",
]
ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)


class BusError(Exception):
    """Base of every ctxbus error."""


class BusTimeout(BusError):
    """No reply arrived within the timeout, after every retry."""


class BadReply(BusError):
    """A reply arrived but breaks the wire contract."""


class _CodedError(BusError):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message


class RemoteError(_CodedError):
    """The peer replied with ``ok: false``."""


class ProtocolError(_CodedError):
    """A received frame breaks the contract; ``code`` is the error reply to send."""


class OpError(_CodedError):
    """Raised by an op handler: the replier turns it into an error reply with this code."""


class TransportError(BusError):
    """A socket operation failed for a reason other than a missed reply (mapped from zmq)."""


class SetupError(BusError):
    """The local environment cannot host ctxbus as configured; the message says what to do."""


class RuntimeDirError(SetupError):
    """The runtime directory is missing, unsafe or unusable."""


class ServiceError(BusError):
    """Part of a process's work cannot be done now; it is reported in its status and retried."""


NO_READER = (
    "this asyncio event loop cannot watch sockets (on Windows the default proactor loop cannot); "
    "run ctxbus under asyncio.WindowsSelectorEventLoopPolicy()"
)
