"""The runtime directory's safety rules, private sockets, and where each endpoint lives."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from bus import (
    AsyncRequester,
    Endpoints,
    Proxy,
    RemoteError,
    Replier,
    RuntimeDirError,
    SetupError,
    default_runtime_dir,
    ensure_runtime_dir,
)
from bus.endpoints import (
    CAPTURE,
    CONTROL,
    EVENTS,
    PUBLISH,
    RUNTIME_DIR_ENV,
    TCP_BASE_PORT_ENV,
    TRANSPORT_ENV,
)
from bus.ops import MainOps

NOBODY = 65534


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_runtime_dir_is_created_private(runtime_dir: Path) -> None:
    """A missing runtime dir (and its parents) is created, the dir itself with mode 0700."""
    target = runtime_dir / "a" / "ctxbus"
    assert ensure_runtime_dir(target) == target
    assert _mode(target) == 0o700
    assert target.stat().st_uid == os.getuid()


def test_runtime_dir_is_private_even_under_a_permissive_umask(runtime_dir: Path) -> None:
    """Mode 0700 does not depend on the caller's umask."""
    old = os.umask(0)
    try:
        ensure_runtime_dir(runtime_dir / "open")
    finally:
        os.umask(old)
    assert _mode(runtime_dir / "open") == 0o700


def test_an_existing_private_dir_is_accepted(runtime_dir: Path) -> None:
    """Our own 0700 dir passes the check unchanged."""
    assert ensure_runtime_dir(runtime_dir) == runtime_dir


@pytest.mark.parametrize("mode", [0o750, 0o705, 0o777, 0o710])
def test_a_dir_open_to_others_is_refused(runtime_dir: Path, mode: int) -> None:
    """A dir that group or others can use is refused, saying how to fix it."""
    runtime_dir.chmod(mode)
    with pytest.raises(RuntimeDirError, match=r"open to other users.*chmod 700"):
        ensure_runtime_dir(runtime_dir)


def test_a_dir_owned_by_another_user_is_refused(runtime_dir: Path) -> None:
    """A dir owned by another uid is refused, naming the uid and the way out."""
    theirs = runtime_dir / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(RuntimeDirError, match=rf"belongs to uid {NOBODY}.*{RUNTIME_DIR_ENV}"):
        ensure_runtime_dir(theirs)


def test_a_file_in_the_way_is_refused(runtime_dir: Path) -> None:
    """A runtime dir path that is a file gets a RuntimeDirError, not an OSError."""
    (runtime_dir / "file").write_text("x")
    with pytest.raises(RuntimeDirError, match="file"):
        ensure_runtime_dir(runtime_dir / "file")


async def test_sockets_are_created_private_and_the_umask_restored(endpoints: Endpoints) -> None:
    """The replier's and proxy's ipc socket files are owner-only; the process umask is kept."""
    before = os.umask(0o022)
    try:
        replier = Replier(endpoints.control)
        replier.bind()
        proxy = Proxy(endpoints.publish, endpoints.events)
        task = asyncio.create_task(proxy.run())
        await asyncio.wait_for(proxy.wait_bound(), 10)
        assert os.umask(0o022) == 0o022
        for name in (CONTROL, EVENTS, PUBLISH):
            path = endpoints.runtime_dir / name
            assert stat.S_ISSOCK(path.stat().st_mode)
            assert _mode(path) & 0o077 == 0, f"{name} is open to others"
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        serving = asyncio.create_task(replier.serve())
        requester = AsyncRequester(endpoints.control, timeout=10)
        with pytest.raises(RemoteError, match="unknown_op"):  # served over the private socket
            await requester.call(MainOps.PING)
        requester.close()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    finally:
        os.umask(before)


def test_endpoints_are_ipc_paths_in_the_runtime_dir(runtime_dir: Path) -> None:
    """By default every endpoint is ipc://<runtime dir>/<name>."""
    endpoints = Endpoints(runtime_dir)
    assert endpoints.control == f"ipc://{runtime_dir}/{CONTROL}"
    assert endpoints.events == f"ipc://{runtime_dir}/{EVENTS}"
    assert endpoints.publish == f"ipc://{runtime_dir}/{PUBLISH}"
    assert endpoints.capture == f"ipc://{runtime_dir}/{CAPTURE}"


def test_the_tcp_switch_moves_every_endpoint_to_loopback(
    runtime_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CTXBUS_TRANSPORT=tcp puts endpoints on 127.0.0.1 from CTXBUS_TCP_BASE_PORT up."""
    monkeypatch.setenv(TRANSPORT_ENV, "tcp")
    monkeypatch.setenv(TCP_BASE_PORT_ENV, "20000")
    endpoints = Endpoints.from_env(runtime_dir)
    assert [endpoints.control, endpoints.events, endpoints.publish, endpoints.capture] == [
        f"tcp://127.0.0.1:{port}" for port in (20000, 20001, 20002, 20003)
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [(TRANSPORT_ENV, "udp"), (TCP_BASE_PORT_ENV, "80"), (TCP_BASE_PORT_ENV, "x")],
)
def test_bad_transport_settings_are_refused(
    runtime_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """An unknown transport or an unusable base port is a clear error."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(RuntimeDirError, match=variable):
        Endpoints.from_env(runtime_dir)


def test_an_ipc_path_over_the_limit_is_refused() -> None:
    """A socket path longer than 107 bytes is refused with the way out."""
    endpoints = Endpoints(Path("/tmp/" + "d" * 100))
    with pytest.raises(RuntimeDirError, match=RUNTIME_DIR_ENV):
        _ = endpoints.control


def test_the_runtime_dir_setting_is_honoured(
    runtime_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CTXBUS_RUNTIME_DIR overrides the platform default."""
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(runtime_dir))
    assert default_runtime_dir() == runtime_dir
    monkeypatch.delenv(RUNTIME_DIR_ENV)
    assert default_runtime_dir().name == "ctxbus"


async def test_a_loop_that_cannot_watch_sockets_is_a_setup_error(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loop without add_reader (Windows' proactor) serve() says which loop to use."""

    def no_reader(*_: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(asyncio.get_running_loop(), "add_reader", no_reader)
    with pytest.raises(SetupError, match="WindowsSelectorEventLoopPolicy"):
        await Replier(endpoints.control).serve()
