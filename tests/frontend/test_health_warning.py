"""The dashboard warns, with the reason, while the running backend says it is degraded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.apps.verdict import set_verdict
from tests.fixtures.processes import MainProcess, running_main
from tests.frontend.conftest import FrontendProcess
from tests.frontend.test_dashboard import UI_TIMEOUT, open_dashboard

pytestmark = pytest.mark.browser

VERDICT_APP = "tests.apps.verdict:create_app"
DAMAGED = "database: damaged: database disk image is malformed"


@pytest.fixture
async def real_main(runtime_dir: Path) -> AsyncIterator[MainProcess]:
    """main with a backend whose /health verdict the test sets (overrides the real app's)."""
    async with running_main(runtime_dir, app=VERDICT_APP) as main:
        yield main


async def test_degraded_backend_shows_warning(
    page: Page, frontend: FrontendProcess, real_main: MainProcess, runtime_dir: Path
) -> None:
    """degraded: a warning naming the reason, the state still running; ok again: it is gone."""
    await open_dashboard(page, frontend)
    warning = page.get_by_test_id("backend-health")
    await expect(warning).to_be_hidden()
    after = len(real_main.log.events)
    set_verdict(runtime_dir / "data", DAMAGED)
    await real_main.log.wait_for(lambda e: e.health == "degraded", after=after)
    await expect(warning).to_be_visible(timeout=UI_TIMEOUT)
    await expect(warning).to_have_text(f"Degraded: {DAMAGED}")
    await expect(page.get_by_test_id("backend-state")).to_have_text("running")
    set_verdict(runtime_dir / "data", None)
    await expect(warning).to_be_hidden(timeout=UI_TIMEOUT)
