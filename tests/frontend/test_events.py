"""The SSE hub: envelopes, the latest state for late joiners, fan-out, and closing."""

from __future__ import annotations

import json

from bus import endpoints as names
from frontend.events import EventHub, message


def payloads(chunks: list[str]) -> list[dict[str, object]]:
    return [
        json.loads(chunk.removeprefix("data: ")) for chunk in chunks if chunk.startswith("data")
    ]


def test_message_is_one_json_envelope() -> None:
    """An SSE payload is {"topic", "kind", "body"} with the event body spliced in unchanged."""
    assert json.loads(message("backend.status", "event", b'{"seq": 3}')) == {
        "topic": "backend.status",
        "kind": "event",
        "body": {"seq": 3},
    }
    assert json.loads(message("backend.status", "lost", None))["body"] is None


async def test_late_joiner_gets_latest_state_only() -> None:
    """A new stream starts with the latest backend and per-component states, not old frames."""
    hub = EventHub()
    hub.broadcast(names.BACKEND_STATUS, "event", b'{"seq": 1}')
    hub.broadcast(names.BACKEND_STATUS, "event", b'{"seq": 2}')
    hub.broadcast(names.COMPONENT_STATUS, "event", b'{"component": "main", "seq": 1}')
    hub.broadcast(names.COMPONENT_STATUS, "event", b'{"component": "frontend", "seq": 2}')
    hub.broadcast(names.CAPTURE_FRAME, "event", b'{"id": "x"}')
    stream = hub.stream()
    chunks = [await anext(stream) for _ in range(4)]
    assert chunks[0].startswith("retry:")
    bodies = [p["body"] for p in payloads(chunks)]
    assert bodies == [
        {"seq": 2},
        {"component": "main", "seq": 1},
        {"component": "frontend", "seq": 2},
    ]
    hub.close()
    assert [chunk async for chunk in stream] == []


async def test_every_stream_gets_every_message() -> None:
    """Two open streams both receive a broadcast, in order."""
    hub = EventHub()
    streams = [hub.stream(), hub.stream()]
    for stream in streams:
        assert (await anext(stream)).startswith("retry:")
    hub.broadcast(names.CAPTURE_FRAME, "event", b'{"id": "a"}')
    hub.broadcast(names.CAPTURE_FRAME, "event", b'{"id": "b"}')
    for stream in streams:
        got = payloads([await anext(stream), await anext(stream)])
        assert [p["body"] for p in got] == [{"id": "a"}, {"id": "b"}]
    hub.close()
