"""The dashboard in a real browser (Debian's chromium) against a real frontend, main and backend."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.dashboard import dashboard_client, origin
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess

pytestmark = pytest.mark.browser

UI_TIMEOUT = 30_000  # ms: a backend restart plus the event's way to the page


async def open_dashboard(page: Page, frontend: FrontendProcess) -> None:
    """Log in with the announced URL and wait for the first live state."""
    await page.goto(await frontend.login_url())
    await expect(page.get_by_test_id("backend-state")).to_have_text("running", timeout=UI_TIMEOUT)


async def test_dashboard_shows_running(
    page: Page, frontend: FrontendProcess, tmp_path: Path
) -> None:
    """After login the page shows the backend running, with pid and port; a screenshot renders."""
    await open_dashboard(page, frontend)
    await expect(page.get_by_test_id("backend-pid")).to_have_text(re.compile(r"^\d+$"))
    await expect(page.get_by_test_id("backend-port")).to_have_text(re.compile(r"^\d+$"))
    await expect(page.get_by_test_id("link")).to_have_text("live")
    assert urlsplit(page.url).query == "", "the login token stays out of the address bar"
    shot = tmp_path / "dashboard.png"  # docs/img/dashboard.png: the full app's, in integration/
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0


async def test_kill_shows_recovery_without_reload(
    page: Page, frontend: FrontendProcess, real_main: MainProcess
) -> None:
    """SIGKILL of the backend: the page follows to running with a new pid, never reloading."""
    await open_dashboard(page, frontend)
    await page.evaluate("window.__sameDocument = true")
    old_pid = (await real_main.status()).pid
    assert old_pid is not None
    after = len(real_main.log.events)
    os.kill(old_pid, signal.SIGKILL)
    recovered = await real_main.log.wait_for(
        lambda e: e.state == "running" and e.pid != old_pid, after=after
    )
    pid_cell = page.get_by_test_id("backend-pid")
    await expect(pid_cell).to_have_text(str(recovered.pid), timeout=UI_TIMEOUT)
    await expect(page.get_by_test_id("backend-state")).to_have_text("running")
    await expect(page.get_by_test_id("backend-restarts")).not_to_have_text("0")
    assert await page.evaluate("window.__sameDocument") is True


async def test_restart_button_hands_off(
    page: Page, frontend: FrontendProcess, real_main: MainProcess
) -> None:
    """The restart button: accepted, a new pid running, the hand-off note cleared, no error."""
    await open_dashboard(page, frontend)
    old_pid = (await real_main.status()).pid
    after = len(real_main.log.events)
    async with page.expect_response("**/actions/restart-backend") as answer:
        await page.get_by_test_id("restart").click()
    assert (await answer.value).ok
    recovered = await real_main.log.wait_for(
        lambda e: e.state == "running" and e.pid != old_pid, after=after
    )
    await expect(page.get_by_test_id("backend-pid")).to_have_text(
        str(recovered.pid), timeout=UI_TIMEOUT
    )
    await expect(page.get_by_test_id("action-note")).to_have_text("")
    await expect(page.get_by_test_id("error")).to_be_hidden()
    await expect(page.get_by_test_id("backend-reason")).to_be_hidden()


async def test_page_loads_without_console_errors(page: Page, frontend: FrontendProcess) -> None:
    """Loading the dashboard logs no console error (e.g. no 404 for a favicon)."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    await open_dashboard(page, frontend)
    await expect(page.get_by_test_id("link")).to_have_text("live")
    assert errors == []
    icon = await page.evaluate("document.querySelector('link[rel=icon]')?.href ?? ''")
    assert icon.startswith("data:image/svg+xml"), icon


async def test_no_or_wrong_token_is_forbidden(page: Page, frontend: FrontendProcess) -> None:
    """Without the session cookie, or with a wrong login token, every page answers 403."""
    url = await frontend.login_url()
    base = origin(url)
    for path in ("/", "/events", "/api/captures", "/?token=wrong", "/static/app.js"):
        response = await page.goto(base + path)
        assert response is not None
        assert response.status == 403, path


async def test_login_token_is_one_time(frontend: FrontendProcess) -> None:
    """A used login URL no longer logs in; the frontend announces the next one."""
    url = await frontend.login_url()
    async with dashboard_client(url) as client:
        first = await client.get(url)
        assert first.status_code == 303
        assert "httponly" in first.headers["set-cookie"].lower()
        assert "samesite=strict" in first.headers["set-cookie"].lower()
    async with dashboard_client(url) as stranger:
        assert (await stranger.get(url)).status_code == 403
    fresh = await frontend.login_url()
    assert fresh != url
    async with dashboard_client(url) as client:
        assert (await client.get(fresh)).status_code == 303


async def test_api_is_proxied_with_the_token(frontend: FrontendProcess) -> None:
    """/api/* reaches the backend with its bearer token; the browser never holds that token."""
    url = await frontend.login_url()
    async with dashboard_client(url, follow_redirects=True) as client:
        assert (await client.get(url)).status_code == 200
        response = await client.get("/api/captures")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
