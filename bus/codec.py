"""The one encode/decode pair for each kind of frame on the bus.

Frame layouts (every JSON body is a UTF-8 object; see ``docs/protocol.md``)::

    request  [body]          body = {"v": 1, "id": str, "op": str, "args": {...}?}
    reply    [body]          body = {"v": 1, "id": str|null, "ok": true, "result": {...}}
                                  | {"v": 1, "id": str|null, "ok": false,
                                     "error": {"code": str, "message": str}}
    event    [topic, body]   topic = dotted UTF-8 name, body = {"v", "seq", "instance", "ts", ...}
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from bus import endpoints
from bus.errors import BadReply, ErrorCode, ProtocolError, RemoteError
from bus.messages import (
    EVENT_TYPES,
    AnyReply,
    ErrorInfo,
    ErrorReply,
    Event,
    OkReply,
    Request,
)

M = TypeVar("M", bound=msgspec.Struct)
E = TypeVar("E", bound=Event)

_encoder = msgspec.json.Encoder()
_request_decoder = msgspec.json.Decoder(Request)
_reply_decoder = msgspec.json.Decoder(AnyReply)


class _Probe(msgspec.Struct):
    """Just enough of a request to answer it: its id and version, when readable."""

    id: str | None = None
    v: int | None = None


_probe_decoder = msgspec.json.Decoder(_Probe)

# Besides DecodeError, msgspec raises RecursionError for input nested deeper than it recurses
# (e.g. 10,000 nested arrays) and UnicodeDecodeError for invalid UTF-8 inside a JSON string.
# Both are malformed input, never a server fault.
_UNREADABLE = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _why(exc: Exception) -> str:
    """What is wrong with an unreadable frame, in words a client author can act on."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "invalid UTF-8 in a JSON string"
    return str(exc)


_decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}


def _decoder(kind: type[M]) -> msgspec.json.Decoder[M]:
    """One decoder per payload type: cheaper per message than ``msgspec.json.decode(type=...)``."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    return decoder


# -- requests --------------------------------------------------------------------------------------


def encode_request(request_id: str, op: str, args: msgspec.Struct | None = None) -> bytes:
    """One request frame."""
    raw = msgspec.Raw(_encoder.encode(args)) if args is not None else msgspec.Raw(b"{}")
    return _encoder.encode(Request(v=endpoints.PROTOCOL_VERSION, id=request_id, op=op, args=raw))


def probe_id(frames: list[bytes]) -> str | None:
    """The request id of a possibly malformed request, for the error reply; None if unreadable."""
    if len(frames) != 1:
        return None
    try:
        probe = _probe_decoder.decode(frames[0])
    except _UNREADABLE:
        return None
    return probe.id if probe.id and len(probe.id) <= 64 else None


def decode_request(frames: list[bytes]) -> Request:
    """Parse a request, or raise :class:`ProtocolError` carrying the reply's error code."""
    if len(frames) != 1:
        raise ProtocolError("bad_request", f"a request is one frame, got {len(frames)}")
    frame = frames[0]
    if len(frame) > endpoints.MAX_MESSAGE_BYTES:
        raise ProtocolError(
            "too_large",
            f"the request is {len(frame)} bytes; the limit is {endpoints.MAX_MESSAGE_BYTES}",
        )
    try:  # the usual case in one decode; anything else is told apart below
        request = _request_decoder.decode(frame)
    except _UNREADABLE:
        pass
    else:
        if request.v == endpoints.PROTOCOL_VERSION:
            return request
    try:
        probe = _probe_decoder.decode(frame)
    except _UNREADABLE as exc:
        raise ProtocolError(
            "bad_request", f"the request is not a readable JSON object: {_why(exc)}"
        ) from exc
    if probe.v is not None and probe.v != endpoints.PROTOCOL_VERSION:
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {probe.v} is not supported; this peer speaks "
            f"v{endpoints.PROTOCOL_VERSION}",
        )
    try:
        return _request_decoder.decode(frame)
    except _UNREADABLE as exc:
        raise ProtocolError("bad_request", f"malformed request: {_why(exc)}") from exc


def decode_args(request: Request, args_type: type[M]) -> M:
    """The request's ``args`` as ``args_type``, or :class:`ProtocolError` ``bad_request``."""
    try:
        return _decoder(args_type).decode(request.args)
    except _UNREADABLE as exc:
        where = _why(exc).replace("`$", "`$.args")
        raise ProtocolError("bad_request", f"bad args for {request.op!r}: {where}") from exc


# -- replies ---------------------------------------------------------------------------------------


def encode_ok(request_id: str | None, result: msgspec.Struct) -> bytes:
    """One ``ok: true`` reply frame."""
    return _encoder.encode(OkReply(id=request_id, result=msgspec.Raw(_encoder.encode(result))))


def encode_error(request_id: str | None, code: ErrorCode, message: str) -> bytes:
    """One ``ok: false`` reply frame."""
    return _encoder.encode(ErrorReply(id=request_id, error=ErrorInfo(code=code, message=message)))


def decode_reply(frames: list[bytes], request_id: str, result_type: type[M]) -> M:
    """The result of a reply to ``request_id``; :class:`RemoteError` for an error reply."""
    if len(frames) != 1:
        raise BadReply(f"a reply is one frame, got {len(frames)}")
    try:
        reply = _reply_decoder.decode(frames[0])
    except _UNREADABLE as exc:
        raise BadReply(f"unreadable reply: {_why(exc)}") from exc
    if reply.id is not None and reply.id != request_id:
        raise BadReply(f"reply to request {reply.id!r}, expected {request_id!r}")
    if not reply.ok:
        if reply.error is None:
            raise BadReply("an error reply without an error object")
        raise RemoteError(reply.error.code, reply.error.message)
    if not len(reply.result):
        raise BadReply("an ok reply without a result")
    try:
        return _decoder(result_type).decode(reply.result)
    except _UNREADABLE as exc:
        raise BadReply(f"unexpected result: {_why(exc)}") from exc


# -- events ----------------------------------------------------------------------------------------


def encode_event(topic: str, event: Event) -> list[bytes]:
    """One event: ``[topic, body]``."""
    return [topic.encode(), _encoder.encode(event)]


def decode_event(frames: list[bytes], event_type: type[E]) -> tuple[str, E]:
    """``(topic, event)`` with the body decoded as ``event_type``; :class:`BadReply` if it isn't."""
    if len(frames) != 2:
        raise BadReply(f"an event is two frames, got {len(frames)}")
    try:
        topic = frames[0].decode()
    except UnicodeDecodeError as exc:
        raise BadReply("an event topic is not UTF-8") from exc
    try:
        return topic, _decoder(event_type).decode(frames[1])
    except _UNREADABLE as exc:
        raise BadReply(f"malformed {topic} event: {_why(exc)}") from exc


def decode_any_event(frames: list[bytes]) -> tuple[str, Event]:
    """``(topic, event)`` with the body decoded as the topic's registered type."""
    topic = frames[0].decode(errors="replace") if frames else ""
    kind = EVENT_TYPES.get(topic)
    if kind is None:
        raise BadReply(f"no event type is registered for topic {topic!r}")
    return decode_event(frames, kind)


def encode_struct(value: msgspec.Struct) -> bytes:
    """JSON of any payload struct (logs, files, the CLI's ``--json``)."""
    return _encoder.encode(value)
