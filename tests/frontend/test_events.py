"""The SSE hub: envelopes, the latest state for late joiners, fan-out, and closing; a forged
multi-line event through a real frontend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import zmq
import zmq.asyncio

from bus import endpoints as names
from frontend.events import EventHub, message
from tests.fixtures.dashboard import dashboard_client
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

EVENT_TIMEOUT = 30.0
RESEND = 0.2  # seconds between re-publications while the subscription forms


def payloads(chunks: list[str]) -> list[dict[str, object]]:
    return [
        json.loads(chunk.removeprefix("data: ")) for chunk in chunks if chunk.startswith("data")
    ]


def test_message_is_one_json_envelope() -> None:
    """An SSE payload is {"topic", "kind", "body"} with the event body's value unchanged."""
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


def test_message_is_one_line_whatever_the_body_layout() -> None:
    """A body laid out over lines (legal JSON, as anyone may publish) becomes one data line."""
    body = b'{"key": "k1",\n\n "note": "two\\n\\nlines",\r\n "n": 1}'
    data = message(names.CAPTURE_FRAME, "event", body)
    assert "\n" not in data
    assert "\r" not in data
    assert json.loads(data)["body"] == {"key": "k1", "note": "two\n\nlines", "n": 1}


async def test_forged_multiline_frame_does_not_split_the_stream(
    frontend: FrontendProcess, real_main: MainProcess
) -> None:
    """A capture.frame published on the bus with blank lines in its JSON reaches the page as one
    SSE event whose data line parses; the stream goes on."""
    body = b'{"key": "forged",\n\n"note": "a\\n\\nb"}'
    url = await frontend.login_url()
    sock = zmq.asyncio.Context.instance().socket(zmq.PUB)
    sock.connect(real_main.endpoints.publish)
    try:
        async with dashboard_client(url) as client:
            assert (await client.get(url)).status_code == 303
            async with asyncio.timeout(EVENT_TIMEOUT), client.stream("GET", "/events") as stream:
                lines = stream.aiter_lines()
                publishing = asyncio.ensure_future(publish_until_cancelled(sock, body))
                try:
                    envelope = await next_frame(lines)
                finally:
                    publishing.cancel()
    finally:
        sock.close(linger=0)
    assert envelope["body"] == {"key": "forged", "note": "a\n\nb"}


async def publish_until_cancelled(sock: zmq.asyncio.Socket, body: bytes) -> None:
    """Publish ``body`` on capture.frame again and again (PUB drops until the proxy knows us)."""
    while True:
        await sock.send_multipart([names.CAPTURE_FRAME.encode(), body])
        await asyncio.sleep(RESEND)  # sleep-ok: resend period until the proxy knows us


async def next_frame(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The first capture.frame envelope on the stream; every data line must be one JSON."""
    async for line in lines:
        if line.startswith("data: "):
            envelope = json.loads(line.removeprefix("data: "))
            if envelope["topic"] == names.CAPTURE_FRAME:
                return dict(envelope)
        else:
            assert line == "" or line.startswith((":", "retry:")), f"a stray line: {line!r}"
    raise AssertionError("the event stream ended")
