"""The op catalogue: every request a ctxbus endpoint answers, defined once.

An :class:`Op` names the op on the wire and the types of its arguments and result. The replier
registers a handler for it (``replier.register(MainOps.GET_PORT, handler)``) and a requester calls
it (``await requester.call(MainOps.GET_PORT)``), so both sides agree by construction and a wrong
argument or result type is a mypy error. Ops are grouped by the endpoint that answers them
(:mod:`bus.endpoints`); the same wire name may mean different things on different endpoints
(``get_status`` is each owner's Clone snapshot).
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

import msgspec

from bus.messages import (
    Accepted,
    BackendStatus,
    CaptureNowArgs,
    CaptureNowResult,
    CaptureStatus,
    ComponentList,
    ComponentStatus,
    ExcludeRule,
    IndexerStatus,
    NoArgs,
    PingResult,
    PortInfo,
)

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)


class Op(msgspec.Struct, Generic[A, R], frozen=True):
    """One op: its wire name, the struct its arguments decode to, and the struct it returns."""

    name: str
    args: type[A]
    result: type[R]

    def __str__(self) -> str:
        return self.name


class MainOps:
    """main, on ``Endpoints.control``: where the backend is, its state, and commands for it."""

    PING: Final = Op("ping", NoArgs, PingResult)
    GET_PORT: Final = Op("get_port", NoArgs, PortInfo)
    GET_STATUS: Final = Op("get_status", NoArgs, BackendStatus)
    RESTART_BACKEND: Final = Op("restart_backend", NoArgs, Accepted)
    STOP_BACKEND: Final = Op("stop_backend", NoArgs, Accepted)
    START_BACKEND: Final = Op("start_backend", NoArgs, Accepted)
    SHUTDOWN: Final = Op("shutdown", NoArgs, Accepted)


class LauncherOps:
    """The launcher, on ``Endpoints.launcher``: the components it supervises."""

    GET_STATUS: Final = Op("get_status", NoArgs, ComponentStatus)
    GET_COMPONENTS: Final = Op("get_components", NoArgs, ComponentList)
    ANNOUNCE: Final = Op("announce", ComponentStatus, Accepted)
    SHUTDOWN: Final = Op("shutdown", NoArgs, Accepted)


class CaptureOps:
    """capture, on ``Endpoints.capture``: pause, resume, grab now, its state, privacy rules."""

    PAUSE: Final = Op("pause", NoArgs, CaptureStatus)
    RESUME: Final = Op("resume", NoArgs, CaptureStatus)
    CAPTURE_NOW: Final = Op("capture_now", CaptureNowArgs, CaptureNowResult)
    GET_STATUS: Final = Op("get_status", NoArgs, CaptureStatus)
    ADD_EXCLUDE: Final = Op("add_exclude", ExcludeRule, CaptureStatus)  # kept across restarts


class IndexerOps:
    """The indexer, on ``Endpoints.indexer``: its state (Clone snapshot of ``indexer.status``)."""

    GET_STATUS: Final = Op("get_status", NoArgs, IndexerStatus)
