"""The one encode/decode pair per frame kind: round trips, every error code, random frames."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bus import (
    Accepted,
    BackendStatus,
    BadReply,
    ComponentStatus,
    Event,
    Heartbeat,
    LauncherHeartbeat,
    Message,
    NoArgs,
    PingResult,
    PortInfo,
    ProtocolError,
    RemoteError,
    Replier,
    decode_args,
    decode_event,
    decode_reply,
    decode_request,
    encode_error,
    encode_event,
    encode_ok,
    encode_request,
    encode_struct,
    messages,
)
from bus.codec import decode_any_event
from bus.endpoints import (
    BACKEND_STATUS,
    CAPTURE_FRAME,
    CAPTURE_STATUS,
    COMPONENT_STATUS,
    LAUNCHER_HEARTBEAT,
    MAIN_HEARTBEAT,
    MAX_MESSAGE_BYTES,
)
from bus.errors import ERROR_CODES
from bus.messages import (
    EVENT_TYPES,
    CaptureCounters,
    CaptureFrame,
    CaptureNowArgs,
    CaptureNowResult,
    CaptureStatus,
    ComponentList,
    ExcludeRule,
    IndexerStatus,
)
from bus.ops import MainOps, Op

EVENT_EXAMPLES: dict[str, Event] = {
    BACKEND_STATUS: BackendStatus(
        state="running", port=8123, pid=42, restarts=1, reason="crashed", exit_code=-9
    ),
    MAIN_HEARTBEAT: Heartbeat(backend_seq=17),
    LAUNCHER_HEARTBEAT: LauncherHeartbeat(component_seq=4),
    COMPONENT_STATUS: ComponentStatus(
        component="frontend", state="running", pid=7, url="http://127.0.0.1:8124/"
    ),
    CAPTURE_STATUS: CaptureStatus(
        state="paused", pid=9, counters=CaptureCounters(grabbed=3, kept=2, skipped=1)
    ),
    CAPTURE_FRAME: CaptureFrame(
        id="f1", key="k1", monitor=1, captured_at=1.5, width=640, height=480, bytes=1234
    ),
}
PAYLOAD_EXAMPLES: list[Message] = [
    NoArgs(),
    PingResult(pid=1, instance="abc", uptime_s=2.5),
    PortInfo(port=8123, base_url="http://127.0.0.1:8123", token="t", state="running"),
    Accepted(),
    Accepted(accepted=False),
    CaptureCounters(grabbed=1, kept=1, skipped=0, spooled=2, uploaded=3, dropped=4),
    CaptureNowArgs(force=True),
    CaptureNowResult(kept=2, skipped=1),
    ExcludeRule(app="KeePassXC"),
    IndexerStatus(state="running", pid=5, queued=3, done=2, failed=1, per_frame_ms=340.0),
    ExcludeRule(title="*Private Browsing*", process="firefox*"),
    ComponentList(
        seq=3,
        instance="abc",
        components=[ComponentStatus(component="capture", state="running", seq=3, instance="abc")],
    ),
    *EVENT_EXAMPLES.values(),
]


def _message_structs() -> Iterator[type[Message]]:
    for _, value in inspect.getmembers(messages, inspect.isclass):
        if issubclass(value, Message) and value.__module__ == messages.__name__:
            yield value


def test_every_message_struct_has_an_example_here() -> None:
    """Each payload struct of bus.messages is covered by the round-trip examples below."""
    covered = {type(example).__name__ for example in PAYLOAD_EXAMPLES}
    missing = {kind.__name__ for kind in _message_structs()} - covered - {"Message", "Event"}
    assert not missing, f"add round-trip examples for {sorted(missing)}"


@pytest.mark.parametrize("example", PAYLOAD_EXAMPLES, ids=lambda example: type(example).__name__)
def test_payload_structs_round_trip(example: Message) -> None:
    """Every payload struct survives encode then decode unchanged."""
    assert msgspec.json.decode(encode_struct(example), type=type(example)) == example


@pytest.mark.parametrize(("topic", "event"), list(EVENT_EXAMPLES.items()))
def test_events_round_trip_as_two_frames(topic: str, event: Event) -> None:
    """An event is [topic, body]; decoding by type or by registered topic gives it back."""
    stamped = msgspec.structs.replace(event, seq=5, instance="i1", ts=1700000000.25)
    frames = encode_event(topic, stamped)
    assert frames[0] == topic.encode()
    body = json.loads(frames[1])
    assert (body["v"], body["seq"], body["instance"], body["ts"]) == (1, 5, "i1", 1700000000.25)
    assert decode_event(frames, type(event)) == (topic, stamped)
    assert decode_any_event(frames) == (topic, stamped)
    assert EVENT_TYPES[topic] is type(event)


@pytest.mark.parametrize(
    "frames",
    [[b"backend.status"], [b"\xff", b"{}"], [b"backend.status", b"{"], [b"nope", b"{}"]],
)
def test_malformed_events_raise_bad_reply(frames: list[bytes]) -> None:
    """Events with the wrong frame count, a non-UTF-8 topic, a bad body or topic: BadReply."""
    with pytest.raises(BadReply):
        decode_any_event(frames)


@pytest.mark.parametrize("args", [None, CaptureNowArgs(force=True)])
def test_requests_round_trip(args: CaptureNowArgs | None) -> None:
    """encode_request → decode_request → decode_args gives back the id, op and arguments."""
    frame = encode_request("id-1", "capture_now", args)
    assert json.loads(frame) == {
        "v": 1,
        "id": "id-1",
        "op": "capture_now",
        "args": {} if args is None else {"force": True},
    }
    request = decode_request([frame])
    assert (request.v, request.id, request.op) == (1, "id-1", "capture_now")
    assert decode_args(request, CaptureNowArgs) == (args or CaptureNowArgs())


def test_args_are_optional_on_the_wire() -> None:
    """A request without ``args`` means empty arguments."""
    request = decode_request([b'{"v":1,"id":"a","op":"ping"}'])
    assert decode_args(request, NoArgs) == NoArgs()


@pytest.mark.parametrize("example", PAYLOAD_EXAMPLES, ids=lambda example: type(example).__name__)
def test_ok_replies_round_trip(example: Message) -> None:
    """An ok reply carries the result struct and the request id."""
    frame = encode_ok("id-2", example)
    assert json.loads(frame)["ok"] is True
    assert decode_reply([frame], "id-2", type(example)) == example


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_code_round_trips_as_remote_error(code: Any) -> None:
    """An error reply of each code is raised to the caller as RemoteError with code and text."""
    frame = encode_error("id-3", code, "what to do about it")
    assert json.loads(frame) == {
        "v": 1,
        "id": "id-3",
        "ok": False,
        "error": {"code": code, "message": "what to do about it"},
    }
    with pytest.raises(RemoteError) as caught:
        decode_reply([frame], "id-3", NoArgs)
    assert (caught.value.code, caught.value.message) == (code, "what to do about it")


def test_error_codes_are_the_documented_set() -> None:
    """The wire's error codes are exactly the seven of docs/protocol.md."""
    assert set(ERROR_CODES) == {
        "bad_request",
        "unsupported_version",
        "unknown_op",
        "too_large",
        "not_running",
        "busy",
        "internal",
    }


def test_a_null_id_error_reply_is_accepted_by_any_caller() -> None:
    """An error reply to an unreadable request (id null) still reaches the caller."""
    with pytest.raises(RemoteError, match="bad_request"):
        decode_reply([encode_error(None, "bad_request", "x")], "mine", NoArgs)


@pytest.mark.parametrize(
    "frames",
    [
        [b"a", b"b"],
        [b"not json"],
        [encode_ok("other", Accepted())],
        [b'{"v":1,"id":"mine","ok":true}'],
        [b'{"v":1,"id":"mine","ok":false}'],
        [encode_ok("mine", PingResult(pid=1, instance="i", uptime_s=0.0))],
    ],
    ids=["multipart", "not-json", "wrong-id", "no-result", "no-error", "wrong-result-type"],
)
def test_replies_that_break_the_contract_raise_bad_reply(frames: list[bytes]) -> None:
    """A reply with the wrong shape, id or result type is BadReply, never a crash."""
    with pytest.raises(BadReply):
        decode_reply(frames, "mine", Accepted)


def test_a_request_over_the_limit_is_too_large() -> None:
    """Requests over 1 MiB are refused with too_large before any parsing."""
    with pytest.raises(ProtocolError) as caught:
        decode_request([b" " * (MAX_MESSAGE_BYTES + 1)])
    assert caught.value.code == "too_large"
    decode_request([encode_request("a", "ping").ljust(MAX_MESSAGE_BYTES)])  # at the limit: fine


# -- random frames ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
REQUESTISH = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, 0, -1, "1", None, 1.0, True]),
        "id": st.text(max_size=70) | st.integers() | st.none(),
        "op": st.sampled_from(["ping", "echo", "nope", ""]) | st.text(max_size=70) | JSON,
        "args": JSON | st.fixed_dictionaries({}, optional={"text": JSON, "times": JSON}),
    },
)
FRAME = (
    st.binary(max_size=300)
    | JSON.map(lambda value: json.dumps(value).encode())
    | REQUESTISH.map(lambda value: json.dumps(value).encode())
)
FRAMES = st.lists(FRAME, min_size=0, max_size=3)


@given(FRAMES)
@settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
def test_decode_request_raises_only_protocol_errors(frames: list[bytes]) -> None:
    """Whatever the frames, decode_request returns a request or raises ProtocolError."""
    code = None
    try:
        decode_request(frames)
    except ProtocolError as exc:
        code = exc.code
    assert code is None or code in ERROR_CODES


class EchoArgs(Message, kw_only=True):
    text: str
    times: int = 1


def _replier() -> Replier:
    async def ping(_: NoArgs) -> PingResult:
        return PingResult(pid=1, instance="i", uptime_s=0.0)

    async def echo(args: EchoArgs) -> Accepted:
        return Accepted(accepted=bool(args.text * args.times))

    replier = Replier("inproc://unused")
    replier.register(MainOps.PING, ping)
    replier.register(Op("echo", EchoArgs, Accepted), echo)
    return replier


class ReplyShape(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    id: str | None
    ok: bool
    result: dict[str, Any] | None = None
    error: messages.ErrorInfo | None = None


@given(FRAMES)
@settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
def test_replier_handle_always_returns_one_valid_reply(frames: list[bytes]) -> None:
    """replier.handle turns any frames into exactly one reply frame of the documented shape."""
    reply = asyncio.run(_replier().handle(frames))
    shape = msgspec.json.decode(reply, type=ReplyShape)
    assert shape.v == 1
    assert shape.ok == (shape.error is None) == (shape.result is not None)
    if shape.error is not None:
        assert shape.error.code in ERROR_CODES
        assert shape.error.message
