"""ctxbus's wire protocol and socket helpers: messages, codec, endpoints and the four patterns.

See ``docs/protocol.md`` for the contract these implement.
"""

from __future__ import annotations

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
