"""The public surface of ``bus``: other engineers and other programs code against these names."""

from __future__ import annotations

import bus

EXPECTED = {
    # messages
    "Accepted",
    "BackendStatus",
    "CaptureFrame",
    "CaptureNowArgs",
    "CaptureNowResult",
    "CaptureStatus",
    "ComponentList",
    "ComponentStatus",
    "Event",
    "Heartbeat",
    "LauncherHeartbeat",
    "Message",
    "NoArgs",
    "PingResult",
    "PortInfo",
    # the op catalogue
    "Op",
    "MainOps",
    "LauncherOps",
    "CaptureOps",
    # codec
    "decode_args",
    "decode_event",
    "decode_reply",
    "decode_request",
    "encode_error",
    "encode_event",
    "encode_ok",
    "encode_request",
    "encode_struct",
    # endpoints
    "Endpoints",
    "default_runtime_dir",
    "ensure_runtime_dir",
    # errors
    "BadReply",
    "BusError",
    "BusTimeout",
    "OpError",
    "ProtocolError",
    "RemoteError",
    "RuntimeDirError",
    "ServiceError",
    "SetupError",
    "TransportError",
    # the patterns
    "AsyncRequester",
    "Requester",
    "Replier",
    "Publisher",
    "new_instance_id",
    "Proxy",
    "StateFollower",
    "HeartbeatRule",
    "KeyedFollower",
    "KeyedSnapshot",
    "LAUNCHER_BEAT",
    "MAIN_BEAT",
    "subscribe",
    "topic_of",
    "Update",
}


def test_all_is_exactly_the_expected_surface() -> None:
    """bus.__all__ lists exactly the expected public names, each one importable."""
    assert set(bus.__all__) == EXPECTED
    assert len(bus.__all__) == len(EXPECTED), "a name is listed twice"
    for name in EXPECTED:
        assert getattr(bus, name) is not None


def test_the_error_tree_has_one_root() -> None:
    """Every public exception is a BusError; RuntimeDirError is a SetupError."""
    errors = [bus.BusTimeout, bus.BadReply, bus.RemoteError, bus.ProtocolError, bus.OpError]
    errors += [bus.TransportError, bus.ServiceError]
    assert all(issubclass(error, bus.BusError) for error in errors)
    assert issubclass(bus.RuntimeDirError, bus.SetupError)
    assert issubclass(bus.SetupError, bus.BusError)
