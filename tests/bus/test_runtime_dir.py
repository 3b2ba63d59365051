"""The user's runtime dir: $XDG_RUNTIME_DIR when absolute and private, else /run/user/<uid>, else
runtime-<uid> in the temporary directory (platformdirs' choice on Linux)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bus import RuntimeDirError, default_runtime_dir
from bus import runtime_dir as lookup
from bus.endpoints import RUNTIME_DIR_ENV

UID = os.geteuid()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No XDG_RUNTIME_DIR, no /run/user/<uid>, a private temporary directory of the test's own."""
    base = tmp_path / "base"
    base.mkdir(mode=0o700)
    temp = base / "tmp"
    temp.mkdir(mode=0o700)
    monkeypatch.delenv(lookup.XDG_RUNTIME_DIR, raising=False)
    monkeypatch.delenv(RUNTIME_DIR_ENV, raising=False)
    monkeypatch.setattr(lookup, "SYSTEM_RUNTIME_ROOT", base / "run" / "user")
    for name in lookup.TEMP_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TMPDIR", str(temp))
    return base


def private_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True)
    path.chmod(mode)
    return path


def test_a_private_xdg_runtime_dir_is_used(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An absolute $XDG_RUNTIME_DIR of ours with mode 0700 is the runtime dir."""
    xdg = private_dir(home / "xdg")
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(xdg))
    assert lookup.user_runtime_dir() == xdg
    assert default_runtime_dir() == xdg / "ctxbus"


def test_a_missing_xdg_runtime_dir_is_used(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A $XDG_RUNTIME_DIR that does not exist yet is still chosen (ensure_runtime_dir makes it)."""
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(home / "not" / "yet"))
    assert lookup.user_runtime_dir() == home / "not" / "yet"


@pytest.mark.parametrize("value", ["", "relative/run", "./run"])
def test_an_empty_or_relative_xdg_runtime_dir_is_ignored(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """The XDG spec ignores a relative path: the temporary fallback is used."""
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, value)
    assert lookup.user_runtime_dir() == home / "tmp" / f"runtime-{UID}"


def test_an_open_xdg_runtime_dir_is_passed_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A $XDG_RUNTIME_DIR other users may read (mode 0755) is not the runtime dir."""
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(private_dir(home / "open", 0o755)))
    assert lookup.user_runtime_dir() == home / "tmp" / f"runtime-{UID}"


def test_an_xdg_runtime_dir_below_a_shared_dir_is_passed_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below a directory others may write (not sticky), anyone could swap it: not chosen."""
    shared = private_dir(home / "shared", 0o777)
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(private_dir(shared / "run")))
    assert lookup.user_runtime_dir() == home / "tmp" / f"runtime-{UID}"


def test_a_sticky_shared_ancestor_is_trusted(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sticky world-writable ancestor (as /tmp is) does not disqualify a private dir in it."""
    sticky = private_dir(home / "sticky", 0o1777)
    xdg = private_dir(sticky / "run")
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(xdg))
    assert lookup.user_runtime_dir() == xdg


def test_a_file_as_xdg_runtime_dir_is_passed_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A $XDG_RUNTIME_DIR that is a file is not the runtime dir."""
    (home / "file").write_text("")
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(home / "file"))
    assert lookup.user_runtime_dir() == home / "tmp" / f"runtime-{UID}"


def test_run_user_uid_is_the_default(home: Path) -> None:
    """Without $XDG_RUNTIME_DIR, a private /run/user/<uid> is the runtime dir."""
    system = private_dir(home / "run" / "user" / str(UID))
    assert lookup.user_runtime_dir() == system


def test_an_open_run_user_uid_is_passed_over(home: Path) -> None:
    """A /run/user/<uid> others may read falls back to the temporary directory."""
    private_dir(home / "run" / "user" / str(UID), 0o755)
    assert lookup.user_runtime_dir() == home / "tmp" / f"runtime-{UID}"


def test_the_temporary_fallback_follows_tmpdir(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """runtime-<uid> goes in an absolute $TMPDIR; a relative $TMPDIR is ignored for /tmp."""
    assert lookup.user_runtime_dir() == home / "tmp" / f"runtime-{UID}"
    monkeypatch.setenv("TMPDIR", "relative")
    assert lookup.temp_root() == lookup.TEMP_DIRS[0]


def test_a_temporary_fallback_others_may_change_is_refused(home: Path) -> None:
    """An existing runtime-<uid> that others may write is an error that says what to set."""
    private_dir(home / "tmp" / f"runtime-{UID}", 0o777)
    with pytest.raises(RuntimeDirError, match=lookup.XDG_RUNTIME_DIR):
        lookup.user_runtime_dir()


def test_ctxbus_runtime_dir_comes_first(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$CTXBUS_RUNTIME_DIR wins over $XDG_RUNTIME_DIR."""
    monkeypatch.setenv(lookup.XDG_RUNTIME_DIR, str(private_dir(home / "xdg")))
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(home / "mine"))
    assert default_runtime_dir() == home / "mine"
