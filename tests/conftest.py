"""Fixtures shared by every test package; the larger ones live in ``tests/fixtures/``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus import Endpoints, ensure_runtime_dir

pytest_plugins = [
    "tests.fixtures.display",
    "tests.fixtures.browser",
    "tests.fixtures.processes",
]


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """A private runtime dir with a short path (ipc socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp"))
    path.chmod(0o700)
    yield ensure_runtime_dir(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def endpoints(runtime_dir: Path) -> Endpoints:
    """Endpoints in the test's own runtime dir."""
    return Endpoints(runtime_dir)
