"""Dashboard sessions against a real frontend process: they expire, and they last one run.

Short limits come through the configuration's environment (``CTXBUS_FRONTEND_SESSION_*``); the
run's secret through ``CTXBUS_DASHBOARD_SECRET``, as ``ctxbus up`` hands it to its frontend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from services.foundation.dashboard import SECRET_ENV, new_secret
from tests.fixtures.dashboard import dashboard_client
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

EXPIRY_DEADLINE = 20.0  # seconds: far above the limits below
POLL = 0.05  # seconds between the requests of a condition wait


async def logged_in(front: FrontendProcess) -> tuple[httpx.AsyncClient, str]:
    """A client holding a fresh session of ``front``, and the login URL it used."""
    url = await front.login_url()
    client = dashboard_client(url)
    assert (await client.get(url)).status_code == 303
    return client, url


async def status_when_refused(client: httpx.AsyncClient, cookie: str | None) -> tuple[int, float]:
    """GET / until it is refused (with ``cookie`` fixed, else the client's renewed jar): the
    refusal's status and the seconds it took."""
    headers: Mapping[str, str] = {"Cookie": cookie} if cookie else {}
    started = time.monotonic()
    async with asyncio.timeout(EXPIRY_DEADLINE):
        while True:
            response = await client.get("/", headers=headers)
            if response.status_code != 200:
                return response.status_code, time.monotonic() - started
            await asyncio.sleep(POLL)  # sleep-ok: expiry is time itself; polled under a deadline


async def test_idle_session_gets_401(real_main: MainProcess, runtime_dir: Path) -> None:
    """With a 1 s idle limit, a session not renewed answers 401 (session expired)."""
    front = FrontendProcess(real_main.endpoints)
    await front.start(runtime_dir, {"CTXBUS_FRONTEND_SESSION_IDLE": "1"})
    try:
        client, _ = await logged_in(front)
        name, value = next(iter(client.cookies.items()))
        status, _ = await status_when_refused(client, f"{name}={value}")
        assert status == 401
        page = await client.get("/", headers={"Cookie": f"{name}={value}"})
        assert "expired" in page.text
        await client.aclose()
    finally:
        assert await front.stop() == 0


async def test_session_in_use_ends_at_the_absolute_limit(
    real_main: MainProcess, runtime_dir: Path
) -> None:
    """A session renewed by its requests outlives the idle limit, but not the absolute one."""
    front = FrontendProcess(real_main.endpoints)
    limits = {"CTXBUS_FRONTEND_SESSION_IDLE": "1", "CTXBUS_FRONTEND_SESSION_MAX": "3"}
    await front.start(runtime_dir, limits)
    try:
        client, _ = await logged_in(front)
        status, lasted = await status_when_refused(client, None)
        assert status == 401
        assert lasted > 1, "the requests renewed the session past its idle limit"
        await client.aclose()
    finally:
        assert await front.stop() == 0


async def restart(front: FrontendProcess, runtime_dir: Path, env: Mapping[str, str]) -> str:
    """Stop ``front`` and start it again with ``env``; the new process's first login URL."""
    assert await front.stop(restarting=True) == 0
    while not front.urls.empty():  # the old process's announcements
        front.urls.get_nowait()
    await front.start(runtime_dir, env)
    return await front.login_url()


async def page_status(url: str, cookie: str) -> int:
    """The status of ``GET /`` on the dashboard of ``url``, on a new connection, with ``cookie``."""
    async with dashboard_client(url) as client:
        return (await client.get("/", headers={"Cookie": cookie})).status_code


async def test_session_lasts_one_run(real_main: MainProcess, runtime_dir: Path) -> None:
    """A frontend restarted with its run's secret accepts the session (same host name); a new
    run's frontend (a new secret) refuses it."""
    front = FrontendProcess(real_main.endpoints)
    run = {SECRET_ENV: new_secret()}
    await front.start(runtime_dir, run)
    client, url = await logged_in(front)
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    await client.aclose()
    assert await page_status(url, cookie) == 200
    same_port = {"CTXBUS_FRONTEND_PORT": str(urlsplit(url).port)}
    try:
        again = await restart(front, runtime_dir, run | same_port)
        assert urlsplit(again).netloc == urlsplit(url).netloc
        assert await page_status(url, cookie) == 200, "the same run's session holds"
        await restart(front, runtime_dir, {SECRET_ENV: new_secret()} | same_port)
        assert await page_status(url, cookie) == 403, "a new run refuses the old session"
    finally:
        assert await front.stop() == 0
