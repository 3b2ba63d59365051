"""ctxbus's wire protocol and socket helpers: messages, codec, endpoints and the four patterns.

See ``docs/protocol.md`` for the contract these implement.

Names are imported on first use (PEP 562): a process that needs one error class or the endpoint
names (the backend: ``bus.errors`` through the foundation) does not pay for zmq and every other
bus module at start-up. ``from bus import X`` and ``bus.X`` work as with plain imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bus.codec import (
        decode_args,
        decode_event,
        decode_reply,
        decode_request,
        encode_error,
        encode_event,
        encode_ok,
        encode_request,
        encode_struct,
    )
    from bus.endpoints import Endpoints, default_runtime_dir, ensure_runtime_dir
    from bus.errors import (
        BadReply,
        BusError,
        BusTimeout,
        OpError,
        ProtocolError,
        RemoteError,
        RuntimeDirError,
        ServiceError,
        SetupError,
        TransportError,
    )
    from bus.messages import (
        Accepted,
        BackendStatus,
        CaptureFrame,
        CaptureNowArgs,
        CaptureNowResult,
        CaptureStatus,
        ComponentList,
        ComponentStatus,
        Event,
        Heartbeat,
        LauncherHeartbeat,
        Message,
        NoArgs,
        PingResult,
        PortInfo,
    )
    from bus.ops import CaptureOps, LauncherOps, MainOps, Op
    from bus.proxy import Proxy
    from bus.publisher import Publisher, new_instance_id
    from bus.replier import Replier
    from bus.requester import AsyncRequester, Requester
    from bus.subscriber import (
        LAUNCHER_BEAT,
        MAIN_BEAT,
        HeartbeatRule,
        KeyedFollower,
        KeyedSnapshot,
        StateFollower,
        Update,
        subscribe,
        topic_of,
    )

__all__ = [
    "LAUNCHER_BEAT",
    "MAIN_BEAT",
    "Accepted",
    "AsyncRequester",
    "BackendStatus",
    "BadReply",
    "BusError",
    "BusTimeout",
    "CaptureFrame",
    "CaptureNowArgs",
    "CaptureNowResult",
    "CaptureOps",
    "CaptureStatus",
    "ComponentList",
    "ComponentStatus",
    "Endpoints",
    "Event",
    "Heartbeat",
    "HeartbeatRule",
    "KeyedFollower",
    "KeyedSnapshot",
    "LauncherHeartbeat",
    "LauncherOps",
    "MainOps",
    "Message",
    "NoArgs",
    "Op",
    "OpError",
    "PingResult",
    "PortInfo",
    "ProtocolError",
    "Proxy",
    "Publisher",
    "RemoteError",
    "Replier",
    "Requester",
    "RuntimeDirError",
    "ServiceError",
    "SetupError",
    "StateFollower",
    "TransportError",
    "Update",
    "decode_args",
    "decode_event",
    "decode_reply",
    "decode_request",
    "default_runtime_dir",
    "encode_error",
    "encode_event",
    "encode_ok",
    "encode_request",
    "encode_struct",
    "ensure_runtime_dir",
    "new_instance_id",
    "subscribe",
    "topic_of",
]

_HOMES = {
    "Accepted": "bus.messages",
    "AsyncRequester": "bus.requester",
    "BackendStatus": "bus.messages",
    "BadReply": "bus.errors",
    "BusError": "bus.errors",
    "BusTimeout": "bus.errors",
    "CaptureFrame": "bus.messages",
    "CaptureNowArgs": "bus.messages",
    "CaptureNowResult": "bus.messages",
    "CaptureOps": "bus.ops",
    "CaptureStatus": "bus.messages",
    "ComponentList": "bus.messages",
    "ComponentStatus": "bus.messages",
    "Endpoints": "bus.endpoints",
    "Event": "bus.messages",
    "Heartbeat": "bus.messages",
    "HeartbeatRule": "bus.subscriber",
    "KeyedFollower": "bus.subscriber",
    "KeyedSnapshot": "bus.subscriber",
    "LAUNCHER_BEAT": "bus.subscriber",
    "LauncherHeartbeat": "bus.messages",
    "LauncherOps": "bus.ops",
    "MAIN_BEAT": "bus.subscriber",
    "MainOps": "bus.ops",
    "Message": "bus.messages",
    "NoArgs": "bus.messages",
    "Op": "bus.ops",
    "OpError": "bus.errors",
    "PingResult": "bus.messages",
    "PortInfo": "bus.messages",
    "ProtocolError": "bus.errors",
    "Proxy": "bus.proxy",
    "Publisher": "bus.publisher",
    "RemoteError": "bus.errors",
    "Replier": "bus.replier",
    "Requester": "bus.requester",
    "RuntimeDirError": "bus.errors",
    "ServiceError": "bus.errors",
    "SetupError": "bus.errors",
    "StateFollower": "bus.subscriber",
    "TransportError": "bus.errors",
    "Update": "bus.subscriber",
    "decode_args": "bus.codec",
    "decode_event": "bus.codec",
    "decode_reply": "bus.codec",
    "decode_request": "bus.codec",
    "default_runtime_dir": "bus.endpoints",
    "encode_error": "bus.codec",
    "encode_event": "bus.codec",
    "encode_ok": "bus.codec",
    "encode_request": "bus.codec",
    "encode_struct": "bus.codec",
    "ensure_runtime_dir": "bus.endpoints",
    "new_instance_id": "bus.publisher",
    "subscribe": "bus.subscriber",
    "topic_of": "bus.subscriber",
}

SUBMODULES = frozenset(
    {"codec", "curve", "eager", "endpoints", "errors", "frames", "messages", "ops", "proxy",
     "publisher", "replier", "requester", "subscriber"}
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f"bus.{name}")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | SUBMODULES)
