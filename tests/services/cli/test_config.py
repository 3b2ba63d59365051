"""Configuration layering: defaults < file < CTXBUS_* environment < flags, bad values refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.foundation.config import ConfigError, load_config
from tests.services.cli.conftest import ctxbus


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """An empty config file, so the user's own file never leaks into a test."""
    return write(tmp_path / "empty.toml", "")


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    """Without file, environment or flags every key has its built-in default."""
    config = load_config(write(tmp_path / "c.toml", ""), env={})
    assert config.main_port == 1733
    assert config.frontend_port == 1734
    assert config.capture_interval == 5.0
    assert config.main_standby is True
    assert set(config.sources.values()) == {"default"}


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    """A flag beats the environment, which beats the file, which beats the default."""
    path = write(
        tmp_path / "c.toml", "[main]\nport = 2000\nstandby = false\n[frontend]\nport = 2001\n"
    )
    env = {"CTXBUS_MAIN_PORT": "3000", "CTXBUS_CAPTURE_INTERVAL": "0.5"}
    config = load_config(path, env=env, flags={"main.port": 4000, "frontend.port": None})
    assert (config.main_port, config.sources["main.port"]) == (4000, "flag")
    assert (config.frontend_port, config.sources["frontend.port"]) == (2001, "file")
    assert (config.main_standby, config.sources["main.standby"]) == (False, "file")
    assert (config.capture_interval, config.sources["capture.interval"]) == (0.5, "env")
    assert config.sources["capture.format"] == "default"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CTXBUS_CAPTURE_INTERVAL": "0.1"}, "capture.interval"),
        ({"CTXBUS_CAPTURE_INTERVAL": "7200"}, "capture.interval"),
        ({"CTXBUS_CAPTURE_FORMAT": "gif"}, "capture.format"),
        ({"CTXBUS_CAPTURE_QUALITY": "0"}, "capture.quality"),
        ({"CTXBUS_MAIN_PORT": "http"}, "main.port"),
        ({"CTXBUS_FRONTEND_PORT": "70000"}, "frontend.port"),
        ({"CTXBUS_MAIN_STANDBY": "maybe"}, "main.standby"),
    ],
)
def test_bad_values_are_refused_naming_the_key(empty: Path, env: dict[str, str], key: str) -> None:
    """A bad value stops the load with a message naming the key and the variable it came from."""
    with pytest.raises(ConfigError, match=key) as caught:
        load_config(empty, env=env)
    assert next(iter(env)) in str(caught.value)


def test_bad_file_value_names_the_file(tmp_path: Path) -> None:
    """A bad value in the TOML file is reported with the key and the file's path."""
    path = write(tmp_path / "c.toml", "[capture]\ninterval = 'soon'\n")
    with pytest.raises(ConfigError, match=r"capture\.interval") as caught:
        load_config(path, env={})
    assert str(path) in str(caught.value)


def test_unknown_file_key_is_refused(tmp_path: Path) -> None:
    """A typo in the file is an error listing the known keys, not a silently ignored option."""
    path = write(tmp_path / "c.toml", "[main]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'main\.prot'"):
        load_config(path, env={})


def test_reserved_variables_are_not_configuration(empty: Path) -> None:
    """CTXBUS_BACKEND_* (the spawn contract) never feeds a configuration key."""
    config = load_config(empty, env={"CTXBUS_BACKEND_PORT": "9"})
    assert config.main_port == 1733


def test_to_env_round_trips(empty: Path) -> None:
    """A child given Config.to_env() loads the same effective values."""
    config = load_config(empty, env={"CTXBUS_CAPTURE_QUALITY": "42"})
    again = load_config(env=config.to_env())
    assert [again.value(k) for k in config.sources] == [config.value(k) for k in config.sources]


async def test_ctxbus_config_json_shows_sources(runtime_dir: Path) -> None:
    """`ctxbus config --json` prints each key's value, source and variable; flags win."""
    ran = await ctxbus(
        runtime_dir,
        "config",
        "--json",
        "--frontend-port",
        "1800",
        env={"CTXBUS_CAPTURE_FORMAT": "png"},
    )
    assert ran.code == 0, ran.err
    keys = json.loads(ran.out)["keys"]
    assert keys["frontend.port"] == {"value": 1800, "source": "flag", "env": "CTXBUS_FRONTEND_PORT"}
    assert keys["capture.format"]["source"] == "env"
    assert keys["main.port"]["source"] == "default"


async def test_ctxbus_refuses_bad_config_with_exit_2(runtime_dir: Path) -> None:
    """A bad value makes any command exit 2 with the key in the message."""
    ran = await ctxbus(runtime_dir, "status", env={"CTXBUS_CAPTURE_INTERVAL": "0"})
    assert ran.code == 2
    assert "capture.interval" in ran.err


async def test_config_prints_whole_values_off_a_terminal(runtime_dir: Path) -> None:
    """Piped `ctxbus config` prints a long path whole, on its key's line (no 80-column cut)."""
    long_dir = str(runtime_dir / ("deep-" * 20) / "data")
    ran = await ctxbus(runtime_dir, "config", env={"CTXBUS_DATA_DIR": long_dir})
    assert ran.code == 0, ran.err
    line = next(line for line in ran.out.splitlines() if line.startswith("data_dir"))
    assert line.split()[1] == long_dir


async def test_help_is_plain_text(runtime_dir: Path) -> None:
    """`ctxbus --help` describes the command in plain words, without Sphinx markup."""
    ran = await ctxbus(runtime_dir, "--help")
    assert ran.code == 0, ran.err
    assert "``" not in ran.out
    assert ":func:" not in ran.out
    assert "ctxbus up" in ran.out
