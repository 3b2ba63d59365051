"""With no backend serving, the dashboard's API calls get main's 503 and the page says why."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from bus.ops import MainOps
from tests.fixtures.processes import MainProcess
from tests.frontend.conftest import FrontendProcess
from tests.frontend.test_dashboard import UI_TIMEOUT, open_dashboard

pytestmark = pytest.mark.browser

FETCH_CAPTURES = """async () => {
  const answer = await fetch("/api/captures");
  return [answer.status, answer.headers.get("retry-after"), await answer.json()];
}"""


async def test_stopped_backend_is_explained_on_the_page(
    page: Page, frontend: FrontendProcess, real_main: MainProcess
) -> None:
    """stop_backend: /api gets main's 503 through the proxy; the timeline shows state and reason."""
    await open_dashboard(page, frontend)
    mark = len(real_main.log.events)
    await real_main.call(MainOps.STOP_BACKEND)
    stopped = await real_main.log.wait_for(lambda e: e.state == "stopped", after=mark)
    status, retry_after, body = await page.evaluate(FETCH_CAPTURES)
    assert (status, body["error"]["code"], body["error"]["state"]) == (
        503,
        "backend_unavailable",
        "stopped",
    )
    assert retry_after is not None
    await page.reload()
    note = page.get_by_test_id("capture-note")
    await expect(note).to_contain_text("backend stopped", timeout=UI_TIMEOUT)
    await expect(note).to_contain_text(stopped.reason or "", timeout=UI_TIMEOUT)
