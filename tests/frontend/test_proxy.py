"""The dashboard's /api proxy against a real frontend, main and backend (issue 12 §5).

Paths are sent as raw request lines (httpx would resolve ``..`` itself before sending).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from bus import AsyncRequester
from frontend.app import AppParts, create_app
from frontend.backend_link import BackendLink
from frontend.events import EventHub
from frontend.gate import TokenGate
from services.foundation.backend_client import BackendClient
from tests.fixtures.dashboard import dashboard_client
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

ANSWER_TIMEOUT = 10.0
HUGE = 400 * 1024 * 1024  # a declared body far over the backend's 20 MiB limit


@dataclass(frozen=True)
class Session:
    """A logged-in browser's view of the dashboard: where it is and its session cookie."""

    url: str
    cookie: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    @property
    def origin(self) -> str:
        return f"http://{self.host}"

    def client(self) -> httpx.AsyncClient:
        """An httpx client on the dashboard with this session and the dashboard's Origin."""
        headers = {"Cookie": self.cookie, "Origin": self.origin}
        return dashboard_client(self.url, headers=headers)


@dataclass(frozen=True)
class Answer:
    status: int
    head: str
    body: bytes

    def error_code(self) -> str:
        return str(json.loads(self.body)["error"]["code"])


@pytest.fixture
async def session(frontend: FrontendProcess) -> Session:
    url = await frontend.login_url()
    async with dashboard_client(url) as client:
        assert (await client.get(url)).status_code == 303
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return Session(url, cookie)


async def raw(session: Session, target: str, method: str = "GET", extra: str = "") -> Answer:
    """Send one request line as written (no normalisation) and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", session.port)
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {session.host}\r\nCookie: {session.cookie}\r\n"
        f"Origin: {session.origin}\r\nConnection: close\r\n{extra}\r\n"
    )
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        async with asyncio.timeout(ANSWER_TIMEOUT):
            response = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    head_text, _, body = rest.partition(b"\r\n\r\n")
    return Answer(int(status_line.split()[1]), head_text.decode("latin-1"), body)


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def upload_params(size: tuple[int, int]) -> dict[str, str | int | float]:
    return {"captured_at": time.time(), "monitor": 0, "width": size[0], "height": size[1]}


REFUSED = {
    "/api/../openapi.json": 404,
    "/api/../docs": 404,
    "/api/%2e%2e/health": 404,
    "/api/%2E%2E/openapi.json": 404,
    "/api/captures/../../health": 404,
    "/api/./../health": 404,
    "/api/..%2fhealth": 400,
    "/api/..%2Fopenapi.json": 400,
    "/api/..%5chealth": 400,
    "/api/captures%00": 400,
    "/api/%ff": 400,
}


async def test_paths_leaving_api_are_refused(session: Session) -> None:
    """Dot segments (plain or percent-encoded), encoded slashes, NUL and bad UTF-8 never reach a
    backend route outside /api/: 404 or 400 with the error envelope."""
    for target, status in REFUSED.items():
        answer = await raw(session, target)
        assert answer.status == status, (target, answer.body)
        assert answer.error_code() in {"not_found", "invalid_path"}, target


async def test_dot_segments_inside_api_are_resolved(session: Session) -> None:
    """/api/x/../captures is /api/captures: proxied."""
    inside = await raw(session, "/api/x/../captures")
    direct = await raw(session, "/api/captures")
    assert inside.status == direct.status == 200, inside.body
    assert json.loads(inside.body) == json.loads(direct.body)


async def test_upload_through_the_proxy_keeps_its_idempotency_key(session: Session) -> None:
    """An upload through the dashboard reaches the backend with its Idempotency-Key (201, then
    200 for the same key); the image streams back byte for byte with its length."""
    body = png()
    async with session.client() as client:
        params = upload_params((40, 30))
        headers = {"Content-Type": "image/png", "Idempotency-Key": "dash-1"}
        first = await client.post("/api/captures", params=params, content=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await client.post("/api/captures", params=params, content=body, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        image = await client.get(f"/api/captures/{first.json()['id']}/image")
    assert image.status_code == 200
    assert image.content == body
    assert image.headers["content-length"] == str(len(body))
    assert image.headers["content-type"] == "image/png"


async def test_declared_oversized_body_gets_413_before_it_is_sent(session: Session) -> None:
    """A Content-Length over the backend's limit is refused with 413 at once: the proxy does not
    wait for (or hold) the body."""
    extra = f"Content-Type: image/png\r\nIdempotency-Key: huge\r\nContent-Length: {HUGE}\r\n"
    answer = await raw(session, "/api/captures?monitor=0", "POST", extra)
    assert answer.status == 413
    assert answer.error_code() == "payload_too_large"


@dataclass(frozen=True)
class SmallProxy:
    transport: httpx.ASGITransport
    gate: TokenGate


@pytest.fixture
async def small_proxy(real_main: MainProcess) -> AsyncIterator[SmallProxy]:
    """The dashboard app in-process, in front of the real backend, with a 1 KiB body limit."""
    control = AsyncRequester(real_main.endpoints.control)
    capture = AsyncRequester(real_main.endpoints.capture, timeout=0.1, retries=1)
    backend = BackendClient(real_main.endpoints, requester=control)
    async with asyncio.timeout(ANSWER_TIMEOUT):  # main runs: one get_port
        await backend.refresh()
    gate = TokenGate(1734, b"s" * 32, "ctxbus-testtest00.localhost")
    parts = AppParts(gate, EventHub(), BackendLink.of(backend), control, capture, max_body=1024)
    try:
        yield SmallProxy(httpx.ASGITransport(app=create_app(parts)), gate)
    finally:
        await backend.aclose()
        control.close()
        capture.close()


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


async def test_streamed_body_is_cut_at_the_limit(small_proxy: SmallProxy) -> None:
    """A chunked body (no Content-Length) over the limit gets the proxy's 413; under it, the
    backend reads it whole (and finds no image in it)."""
    gate = small_proxy.gate
    async with httpx.AsyncClient(transport=small_proxy.transport, base_url=gate.origin) as client:
        assert (await client.get(gate.url)).status_code == 303
        headers = {"Origin": gate.origin, "Content-Type": "image/png", "Idempotency-Key": "c"}
        params = upload_params((4, 4))
        over = await client.post(
            "/api/captures", params=params, content=chunks(4096), headers=headers
        )
        assert over.status_code == 413
        assert "1024" in over.json()["error"]["message"]
        under = await client.post(
            "/api/captures", params=params, content=chunks(512), headers=headers
        )
        assert under.status_code == 422, under.text
        assert under.json()["error"]["code"] == "invalid_image", "the backend read it whole"


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def send_chunked(writer: asyncio.StreamWriter, total_mib: int) -> None:
    """Write a chunked body of ``total_mib`` MiB until done or the server stops reading."""
    chunk = b"x" * (1024 * 1024)
    try:
        for _ in range(total_mib):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        return  # refused mid-body: what the test wants


async def test_big_chunked_body_is_streamed_not_held(
    session: Session, frontend: FrontendProcess
) -> None:
    """A 100 MiB chunked POST gets 413 at the 20 MiB limit and never grows the frontend's peak
    memory by anything like its size (the proxy streams, it does not buffer)."""
    assert frontend.child is not None
    before = peak_rss_mib(frontend.child.pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", session.port)
    head = (
        f"POST /api/captures?monitor=0 HTTP/1.1\r\nHost: {session.host}\r\n"
        f"Cookie: {session.cookie}\r\nOrigin: {session.origin}\r\nContent-Type: image/png\r\n"
        "Idempotency-Key: big\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode())
    sending = asyncio.ensure_future(send_chunked(writer, 100))
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT * 3):
            status_line = await reader.readline()
    finally:
        sending.cancel()
        writer.close()
    assert status_line.split()[1] == b"413"
    assert peak_rss_mib(frontend.child.pid) - before < 15
