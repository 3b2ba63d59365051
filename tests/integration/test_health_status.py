"""main publishes the backend's /health verdict in ``backend.status``; ``ctxbus status`` shows it.

A degraded backend still answers, so it stays ``running``; ``health`` and ``health_reason`` say
what is wrong. The real backend is degraded by a damaged database (page 2 overwritten while no
backend runs, as tests/backend/test_damaged_database.py does); a verdict the test flips while
the backend runs comes from ``tests.apps.verdict``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend.database import DB_FILE
from bus import Endpoints, Heartbeat
from bus import endpoints as names
from tests.apps.verdict import set_verdict
from tests.backend.conftest import upload
from tests.fixtures.processes import MainProcess, running_main
from tests.fixtures.recorder import TopicRecorder
from tests.services.cli.conftest import ctxbus

BACKEND_APP = "backend.app:create_app"
VERDICT_APP = "tests.apps.verdict:create_app"
PAGE = 4096
LOW_DISK = "storage: 12.0 MB free, under 256 MB"
PROBES_APART = 4  # main heartbeats (1 s each) that span at least one 2 s health probe


def data_dir(runtime_dir: Path) -> Path:
    """The backend's data dir under main as the process fixture starts it (``--data-dir``)."""
    return runtime_dir / "data"


def overwrite_page_2(db: Path) -> None:
    """Garbage over the database's second page, as a bad disk block would."""
    with db.open("r+b") as file:
        file.seek(PAGE)
        file.write(os.urandom(PAGE))


@pytest.fixture
async def heartbeats(runtime_dir: Path) -> AsyncIterator[TopicRecorder[Heartbeat]]:
    """main's heartbeats from now on: its 1 s clock, to let probes pass without sleeping."""
    beats = TopicRecorder(Endpoints(runtime_dir), names.MAIN_HEARTBEAT, Heartbeat)
    yield beats
    beats.close()


async def store_one_capture(main: MainProcess) -> None:
    info = await main.port_info()
    headers = {"Authorization": f"Bearer {info.token}"}
    async with httpx.AsyncClient(base_url=info.base_url, headers=headers) as client:
        assert (await upload(client, "before-damage")).status_code == 201


async def test_damaged_database_is_published_as_degraded(runtime_dir: Path) -> None:
    """On a damaged database main's backend runs degraded, the reason naming the database."""
    async with running_main(runtime_dir, app=BACKEND_APP) as main:
        sound = await main.status()
        await store_one_capture(main)
    assert (sound.state, sound.health, sound.health_reason) == ("running", "ok", None)
    overwrite_page_2(data_dir(runtime_dir) / DB_FILE)
    async with running_main(runtime_dir, app=BACKEND_APP) as main:
        status = await main.status()  # running_main returned once the backend runs
        ran = await ctxbus(runtime_dir, "status", "--json")
        table = await ctxbus(runtime_dir, "status")
    assert (status.state, status.health) == ("running", "degraded")
    assert status.health_reason is not None
    assert status.health_reason.startswith("database: damaged: ")
    assert ran.code == 0, ran.err
    backend = json.loads(ran.out)["backend"]
    assert (backend["state"], backend["health"]) == ("running", "degraded")
    assert backend["health_reason"] == status.health_reason
    assert table.code == 0, table.err
    row = next(line for line in table.out.splitlines() if line.startswith("backend"))
    assert "running (degraded)" in row
    assert status.health_reason in row


async def test_verdict_changes_while_running_are_published(
    runtime_dir: Path, heartbeats: TopicRecorder[Heartbeat]
) -> None:
    """ok → degraded → ok while running: one event each, same pid; a reason's figures: no news."""
    async with running_main(runtime_dir, app=VERDICT_APP) as main:
        up = await main.status()
        assert (up.state, up.health, up.health_reason) == ("running", "ok", None)
        after = len(main.log.events)
        set_verdict(data_dir(runtime_dir), LOW_DISK)
        degraded = await main.log.wait_for(lambda e: e.health == "degraded", after=after)
        set_verdict(data_dir(runtime_dir), LOW_DISK.replace("12.0", "11.5"))
        await heartbeats.next(PROBES_APART)
        unchanged = main.log.events[after:]
        set_verdict(data_dir(runtime_dir), None)
        healthy = await main.log.wait_for(lambda e: e.health == "ok", after=after)
        assert await main.status() == healthy
    assert (degraded.state, degraded.pid, degraded.health_reason) == ("running", up.pid, LOW_DISK)
    assert unchanged == [degraded], "a probe that says the same publishes nothing"
    assert (healthy.state, healthy.pid, healthy.health_reason) == ("running", up.pid, None)
    assert up.seq < degraded.seq < healthy.seq
