"""The dashboard's session cookie stays with the dashboard (issue 12 §2), in Debian's chromium.

Chromium resolves every ``*.localhost`` name to loopback itself (no ``--host-resolver-rules``
needed). After logging in, the browser visits a plain HTTP server of the test's own, on another
port, that records each request's headers.

Cookies carry no port: a server on the dashboard's own name and another port does get the cookie
(chromium 156 sends it). What keeps it from other programs is that they do not know the name
(it is in the 0600 ``dashboard.host`` of the 0700 runtime dir, and told only to whoever holds the
login token); see docs/launcher.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.processes import MainProcess, running_main
from tests.fixtures.recorder import Recorder
from tests.frontend.conftest import REAL_APP, FrontendProcess

pytestmark = pytest.mark.browser

UI_TIMEOUT = 30_000  # ms
HEAD_LIMIT = 64 * 1024
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class HeaderRecorder(Recorder[dict[str, str]]):
    """A plain HTTP server on 127.0.0.1 that records the headers of every request."""

    def __init__(self) -> None:
        super().__init__("request")
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        self.add(headers)
        writer.write(ANSWER)
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    async with running_main(runtime_dir, app=REAL_APP) as main:
        yield main


@pytest.fixture
async def recorder() -> AsyncIterator[HeaderRecorder]:
    server = HeaderRecorder()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_cookie_reaches_no_other_loopback_server(
    real_main: MainProcess, runtime_dir: Path, page: Page, recorder: HeaderRecorder
) -> None:
    """Logged in on the dashboard's .localhost name, chromium sends no ctxbus cookie to another
    server on 127.0.0.1 or localhost; the cookie is host-only on that name."""
    front = FrontendProcess(real_main.endpoints)
    await front.start(runtime_dir)
    try:
        login = await front.login_url()
        host = urlsplit(login).hostname
        assert host is not None
        assert host.startswith("ctxbus-")
        assert host.endswith(".localhost")
        await page.goto(login)
        await expect(page.get_by_test_id("backend-state")).to_have_text(
            "running", timeout=UI_TIMEOUT
        )
        cookies = await page.context.cookies()
        assert [c["domain"] for c in cookies] == [host], "one host-only cookie, on the name"
        assert cookies[0]["sameSite"] == "Strict"
        assert cookies[0]["httpOnly"]
        for name in ("127.0.0.1", "localhost"):
            after = len(recorder.items)
            response = await page.goto(f"http://{name}:{recorder.port}/")
            assert response is not None
            assert response.ok
            headers = await recorder.wait_for(lambda _: True, after=after)
            assert "ctxbus" not in headers.get("cookie", ""), name
    finally:
        assert await front.stop() == 0
