"""The indexer process on its own bus: unavailable without tesseract, status over REP."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bus import Endpoints
from services.foundation.exits import EXIT_CONFIG
from tests.fixtures.processes import REPO
from tests.services.capture.harness import event_proxy
from tests.services.indexer.harness import indexer_argv, running_indexer

INSTALL = "sudo apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim"


def path_without_tesseract() -> str:
    """$PATH without any directory that holds a tesseract executable."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    kept = [d for d in dirs if d and shutil.which("tesseract", path=d) is None]
    return os.pathsep.join(kept)


async def test_without_tesseract_it_is_unavailable_with_the_install_command(
    runtime_dir: Path, endpoints: Endpoints
) -> None:
    """With tesseract off $PATH: state unavailable, the reason gives the apt-get line; it runs."""
    async with (
        event_proxy(endpoints),
        running_indexer(runtime_dir, env={"PATH": path_without_tesseract()}) as indexer,
    ):
        status = await indexer.wait_status(lambda s: s.state == "unavailable")
        assert status.reason is not None
        assert INSTALL in status.reason
        snapshot = await indexer.get_status()  # everything else runs: it answers
        assert snapshot.state == "unavailable"
        assert snapshot.pid == indexer.child.pid


async def test_missing_language_is_unavailable_naming_its_package(
    runtime_dir: Path, endpoints: Endpoints
) -> None:
    """A configured language without data: unavailable, naming the Debian package to install."""
    extra = ("--languages", "eng+xyz")
    async with event_proxy(endpoints), running_indexer(runtime_dir, extra) as indexer:
        status = await indexer.wait_status(lambda s: s.state == "unavailable")
        assert status.reason is not None
        assert "tesseract-ocr-xyz" in status.reason


async def test_disabled_in_config_it_waits(runtime_dir: Path, endpoints: Endpoints) -> None:
    """indexer.enabled = off: the process runs, paused, and says why."""
    async with (
        event_proxy(endpoints),
        running_indexer(runtime_dir, ("--enabled", "off")) as indexer,
    ):
        status = await indexer.wait_status(lambda s: s.state == "paused")
        assert status.reason is not None
        assert "indexer.enabled" in status.reason


async def test_it_runs_at_the_lowest_cpu_priority(runtime_dir: Path, endpoints: Endpoints) -> None:
    """The indexer process runs at nice 19 once it publishes its first status."""
    async with event_proxy(endpoints), running_indexer(runtime_dir) as indexer:
        await indexer.status.wait_for(lambda _: True)
        assert os.getpriority(os.PRIO_PROCESS, indexer.child.pid) == 19


def test_bad_configuration_exits_78(tmp_path: Path) -> None:
    """A malformed indexer.languages is a configuration error: exit 78, naming the key."""
    result = subprocess.run(
        [*indexer_argv(tmp_path, ("--languages", "eng;rm -rf"))],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == EXIT_CONFIG
    assert "indexer.languages" in result.stderr
