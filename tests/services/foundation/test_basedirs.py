"""Data, log and config dirs: $XDG_*_HOME when absolute, else the XDG defaults under the home."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest

from services.foundation import basedirs
from services.foundation.config import default_config_file, default_data_dir, default_log_dir

LOOKUPS: list[tuple[str, Callable[[], Path], str, str]] = [
    # variable, look-up, the path under the variable, the default under the home dir
    (basedirs.XDG_DATA_HOME, basedirs.user_data_dir, "ctxbus", ".local/share/ctxbus"),
    (basedirs.XDG_STATE_HOME, basedirs.user_log_dir, "ctxbus/log", ".local/state/ctxbus/log"),
    (basedirs.XDG_CONFIG_HOME, basedirs.user_config_dir, "ctxbus", ".config/ctxbus"),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is the test's own dir, and no XDG variable is set."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable, *_ in LOOKUPS:
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


@pytest.mark.parametrize(("variable", "lookup", "under_xdg", "_"), LOOKUPS)
def test_an_absolute_xdg_variable_is_used(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    lookup: Callable[[], Path],
    under_xdg: str,
    _: str,
) -> None:
    """An absolute $XDG_*_HOME holds ctxbus's directory."""
    monkeypatch.setenv(variable, str(home / "xdg"))
    assert lookup() == home / "xdg" / under_xdg


@pytest.mark.parametrize(("variable", "lookup", "_", "default"), LOOKUPS)
def test_an_unset_xdg_variable_means_the_default(
    home: Path, variable: str, lookup: Callable[[], Path], _: str, default: str
) -> None:
    """Without $XDG_*_HOME the directory is the XDG default under $HOME."""
    assert lookup() == home / default


@pytest.mark.parametrize("value", ["", "relative", "./xdg"])
@pytest.mark.parametrize(("variable", "lookup", "_", "default"), LOOKUPS)
def test_an_empty_or_relative_xdg_variable_is_ignored(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    lookup: Callable[[], Path],
    _: str,
    default: str,
    value: str,
) -> None:
    """The XDG spec ignores a relative path: the default under $HOME is used."""
    monkeypatch.setenv(variable, value)
    assert lookup() == home / default


@pytest.mark.parametrize("value", ["", "relative/home"])
def test_a_relative_home_means_the_password_database(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """An empty or relative $HOME is not trusted: the user's entry in the password database is."""
    monkeypatch.setenv("HOME", value)
    assert basedirs.home_dir() == Path(pwd.getpwuid(os.getuid()).pw_dir)
    monkeypatch.delenv("HOME")
    assert basedirs.home_dir() == Path(pwd.getpwuid(os.getuid()).pw_dir)


def test_the_configuration_defaults_are_these_dirs(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.py's defaults for data_dir, log_dir and the config file come from these look-ups."""
    monkeypatch.setenv(basedirs.XDG_CONFIG_HOME, str(home / "conf"))
    assert default_data_dir() == home / ".local/share/ctxbus"
    assert default_log_dir() == home / ".local/state/ctxbus/log"
    assert default_config_file() == home / "conf" / "ctxbus" / "config.toml"
