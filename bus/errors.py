"""The one exception tree of ctxbus.

Every error a ctxbus component raises on purpose is a ``BusError``; foreign errors (zmq, msgspec,
OS) are mapped at the boundary with ``raise ... from exc``::

    BusError
    ├── BusTimeout          no reply after every Lazy Pirate retry
    ├── BadReply            a reply that breaks the wire contract (unreadable, wrong id, wrong type)
    ├── RemoteError         the peer answered ``ok: false``; ``.code`` is the wire error code
    ├── ProtocolError       a frame we received breaks the contract; ``.code`` says how
    ├── OpError             raised by an op handler to send a chosen error reply
    ├── TransportError      a socket operation failed (a zmq error other than a missed reply)
    └── SetupError          the local environment is unusable (runtime dir, endpoint in use, ...)
        └── RuntimeDirError
"""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "bad_request",
    "unsupported_version",
    "unknown_op",
    "too_large",
    "not_running",
    "busy",
    "internal",
]
ERROR_CODES: tuple[ErrorCode, ...] = (
    "bad_request",
    "unsupported_version",
    "unknown_op",
    "too_large",
    "not_running",
    "busy",
    "internal",
)


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


NO_READER = (
    "this asyncio event loop cannot watch sockets (on Windows the default proactor loop cannot); "
    "run ctxbus under asyncio.WindowsSelectorEventLoopPolicy()"
)
