"""The dashboard's host name (kept, private, repaired) and which event URLs may be shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bus import ComponentStatus, Endpoints
from services.foundation.dashboard import (
    HOST_FILE,
    HOST_PATTERN,
    dashboard_host,
    is_component_url,
    read_host,
    without_foreign_url,
)

NAME = "ctxbus-abcde12345.localhost"


def test_host_is_random_kept_and_private(runtime_dir: Path) -> None:
    """The name is ctxbus-<10 chars>.localhost, the same on every call, in a 0600 file."""
    bus = Endpoints(runtime_dir)
    host = dashboard_host(bus)
    assert HOST_PATTERN.match(host)
    assert dashboard_host(bus) == host == read_host(bus)
    assert stat.S_IMODE(bus.file(HOST_FILE).stat().st_mode) == 0o600


def test_each_runtime_dir_gets_its_own_name(tmp_path: Path, runtime_dir: Path) -> None:
    """Two runtime dirs (two installs) get two names."""
    other = tmp_path / "rt"
    other.mkdir(mode=0o700)
    assert dashboard_host(Endpoints(runtime_dir)) != dashboard_host(Endpoints(other))


def test_damaged_host_file_is_replaced(runtime_dir: Path) -> None:
    """A host file that does not hold a valid name gets a new valid one."""
    bus = Endpoints(runtime_dir)
    bus.file(HOST_FILE).write_text("evil.example\n")
    assert read_host(bus) is None
    host = dashboard_host(bus)
    assert HOST_PATTERN.match(host)
    assert read_host(bus) == host


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1734/?token=abc",
        "http://localhost:9/",
        f"http://{NAME}:1734/?token=abc",
        f"http://{NAME.upper()}:1734/",
    ],
)
def test_component_urls_are_shown(url: str) -> None:
    """http on 127.0.0.1, localhost or the dashboard's name, with a port: a component's URL."""
    assert is_component_url(url, NAME)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/?token=abc",
        "http://evil.example:1734/",
        "https://127.0.0.1:1734/",
        "http://127.0.0.1/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:1734@evil.example/",
        "http://user@127.0.0.1:1734/",
        "http://ctxbus-zzzzz99999.localhost:1734/",
        "http://127.0.0.2:1734/",
        "javascript:alert(1)",
        "http://127.0.0.1:1734/\r\nX: y",
        "",
        None,
    ],
)
def test_other_urls_are_not(url: str | None) -> None:
    """Another host, scheme, no port, userinfo, another .localhost name: not a component's."""
    assert not is_component_url(url, NAME)


def test_foreign_url_is_dropped_and_logged() -> None:
    """A status with a foreign URL loses the URL (and says so); a component's URL is kept."""
    forged = ComponentStatus(component="frontend", state="running", url="http://evil.example/")
    with capture_logs() as logs:
        shown = without_foreign_url(forged, NAME)
    assert shown.url is None
    assert shown.component == "frontend"
    assert [entry["event"] for entry in logs] == ["foreign_url_dropped"]
    good = ComponentStatus(component="frontend", state="running", url=f"http://{NAME}:1/")
    assert without_foreign_url(good, NAME) is good
