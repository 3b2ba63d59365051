"""The layered configuration: defaults < file < CTXBUS_* environment < flags, decoded by type."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.foundation.config import (
    KEYS,
    KEYS_BY_NAME,
    CaptureConfig,
    Config,
    ConfigError,
    check,
    load_config,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """An empty config file, so the user's own file never leaks into a test."""
    return write(tmp_path / "empty.toml", "")


# One key of each type: its TOML text in the file, then the env text and flag value above it.
LAYERED = [
    ("main.port", "2000", "3000", 4000, (2000, 3000, 4000)),
    ("main.standby", "false", "on", False, (False, True, False)),
    ("capture.interval", "0.5", "1.5", 2.5, (0.5, 1.5, 2.5)),
    ("capture.format", '"png"', "JPEG", "webp", ("png", "jpeg", "webp")),
    ("data_dir", '"/srv/a"', "/srv/b", "/srv/c", (Path("/srv/a"), Path("/srv/b"), Path("/srv/c"))),
]


def file_for(tmp_path: Path, name: str, toml_value: str) -> Path:
    section, _, attr = name.rpartition(".")
    header = f"[{section}]\n" if section else ""
    return write(tmp_path / "c.toml", f"{header}{attr} = {toml_value}\n")


def test_defaults_when_nothing_is_set(empty: Path) -> None:
    """Without file, environment or flags every key has its built-in default."""
    config = load_config(empty, env={})
    assert (config.main.port, config.frontend.port) == (1733, 1734)
    assert config.main.standby is True
    assert config.capture == CaptureConfig()
    assert set(config.sources.values()) == {"default"}
    assert set(config.sources) == {key.name for key in KEYS}


@pytest.mark.parametrize(("name", "toml", "env", "flag", "expected"), LAYERED)
def test_each_layer_overrides_the_one_below(
    tmp_path: Path, name: str, toml: str, env: str, flag: object, expected: tuple[object, ...]
) -> None:
    """For a key of each type: the file beats the default, the env the file, a flag the env."""
    path = file_for(tmp_path, name, toml)
    variable = {KEYS_BY_NAME[name].env: env}
    from_file = load_config(path, env={})
    from_env = load_config(path, env=variable)
    from_flag = load_config(path, env=variable, flags={name: flag})
    seen = [(c.value(name), c.sources[name]) for c in (from_file, from_env, from_flag)]
    assert seen == list(zip(expected, ("file", "env", "flag"), strict=True))


def test_a_flag_left_out_does_not_hide_the_layers_below(empty: Path) -> None:
    """A flag given as None (not on the command line) leaves the environment's value."""
    config = load_config(empty, env={"CTXBUS_MAIN_PORT": "3000"}, flags={"main.port": None})
    assert (config.main.port, config.sources["main.port"]) == (3000, "env")


def test_environment_text_is_read_by_type(empty: Path) -> None:
    """Numbers, on/off/yes/no booleans and choices in any case are read from environment text."""
    env = {
        "CTXBUS_CAPTURE_QUALITY": " 42 ",
        "CTXBUS_CAPTURE_LOSSLESS": "yes",
        "CTXBUS_MAIN_STANDBY": "OFF",
        "CTXBUS_CAPTURE_FORMAT": "Png",
        "CTXBUS_CAPTURE_MAX_DIMENSION": "800",
    }
    config = load_config(empty, env=env)
    assert config.capture.quality == 42
    assert config.capture.lossless is True
    assert config.main.standby is False
    assert config.capture.format == "png"
    assert config.capture.max_dimension == 800


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("CTXBUS_CAPTURE_INTERVAL", "0.1", "must be a number from 0.2 to 3600"),
        ("CTXBUS_CAPTURE_INTERVAL", "7200", "must be a number from 0.2 to 3600"),
        ("CTXBUS_CAPTURE_FORMAT", "gif", "must be one of"),
        ("CTXBUS_CAPTURE_QUALITY", "500", "must be an integer from 1 to 100"),
        ("CTXBUS_CAPTURE_SPOOL_MAX_AGE", "0", "must be a number above 0"),
        ("CTXBUS_MAIN_PORT", "99999", "must be an integer from 0 to 65535"),
        ("CTXBUS_FRONTEND_PORT", "notaport", "must be an integer from 0 to 65535"),
        ("CTXBUS_MAIN_STANDBY", "maybe", "must be on/off"),
    ],
)
def test_bad_environment_value_names_the_key_and_variable(
    empty: Path, variable: str, text: str, expected: str
) -> None:
    """A bad value from the environment: the message has the key, the $VARIABLE and the rule."""
    key = next(key.name for key in KEYS if key.env == variable)
    with pytest.raises(ConfigError) as caught:
        load_config(empty, env={variable: text})
    message = str(caught.value)
    assert f"bad value {text!r} for {key}" in message
    assert f"${variable}" in message
    assert expected in message


def test_bad_file_value_names_the_file(tmp_path: Path) -> None:
    """A bad value in the TOML file is reported with the key and the file's path."""
    path = write(tmp_path / "c.toml", "[capture]\ninterval = 'soon'\n")
    with pytest.raises(ConfigError, match=r"capture\.interval") as caught:
        load_config(path, env={})
    assert f"in {path}" in str(caught.value)


def test_a_boolean_is_not_a_port_in_the_file(tmp_path: Path) -> None:
    """TOML `port = true` is refused rather than read as port 1."""
    path = write(tmp_path / "c.toml", "[main]\nport = true\n")
    with pytest.raises(ConfigError, match=r"main\.port"):
        load_config(path, env={})


def test_bad_flag_value_says_it_came_from_a_flag(empty: Path) -> None:
    """A bad flag value names the key and says it was a flag (not the file or the environment)."""
    with pytest.raises(ConfigError, match=r"frontend\.port \(from a flag\)"):
        load_config(empty, env={"CTXBUS_FRONTEND_PORT": "1800"}, flags={"frontend.port": "-1"})


def test_the_winning_layer_is_the_one_checked(tmp_path: Path) -> None:
    """A bad value under a good one is never read: the environment hides the file's value."""
    path = write(tmp_path / "c.toml", "[capture]\nquality = 500\n")
    config = load_config(path, env={"CTXBUS_CAPTURE_QUALITY": "50"})
    assert config.capture.quality == 50


def test_unknown_file_key_is_refused(tmp_path: Path) -> None:
    """A typo in the file is an error naming the key and the file, listing the known keys."""
    path = write(tmp_path / "c.toml", "[main]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'main\.prot'") as caught:
        load_config(path, env={})
    assert str(path) in str(caught.value)
    assert "main.port" in str(caught.value)


def test_unknown_flag_key_is_refused(empty: Path) -> None:
    """A flag for a key that does not exist is a programming error, reported by name."""
    with pytest.raises(ConfigError, match=r"'main\.prot'"):
        load_config(empty, env={}, flags={"main.prot": 1})


def test_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    """--config naming no file, or a file that is not TOML, stops with the path in the message."""
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.toml", env={})
    broken = write(tmp_path / "broken.toml", "[main\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(broken, env={})


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    """$CTXBUS_CONFIG names the file when --config is not given."""
    path = write(tmp_path / "c.toml", "[frontend]\nport = 2001\n")
    config = load_config(env={"CTXBUS_CONFIG": str(path)})
    assert (config.frontend.port, config.file) == (2001, path)


def test_reserved_variables_are_not_configuration(empty: Path) -> None:
    """CTXBUS_BACKEND_* (the spawn contract) never feeds a configuration key."""
    config = load_config(empty, env={"CTXBUS_BACKEND_PORT": "9"})
    assert config.main.port == 1733


def test_to_env_round_trips(tmp_path: Path) -> None:
    """A child given Config.to_env() loads the same values, and a default stays a default."""
    path = write(tmp_path / "c.toml", "[frontend]\nport = 2001\n")
    config = load_config(path, env={"CTXBUS_CAPTURE_QUALITY": "42"}, flags={"main.standby": False})
    again = load_config(env=config.to_env())
    assert [again.value(key.name) for key in KEYS] == [config.value(key.name) for key in KEYS]
    assert [again.is_set(key.name) for key in KEYS] == [config.is_set(key.name) for key in KEYS]
    assert again.sources["main.port"] == "default", "an unset port must not become pinned"


def test_value_reads_dotted_keys(empty: Path) -> None:
    """Config.value('capture.quality') is config.capture.quality; top-level keys by name."""
    config = load_config(empty, env={"CTXBUS_DATA_DIR": "/srv/data"})
    assert config.value("capture.quality") == config.capture.quality
    assert config.value("data_dir") == Path("/srv/data")
    assert isinstance(config, Config)


@pytest.mark.parametrize(
    ("values", "key"),
    [({"interval": 0.1}, "capture.interval"), ({"max_dimension": 10}, "capture.max_dimension")],
)
def test_check_refuses_settings_built_in_code(values: dict[str, object], key: str) -> None:
    """check() applies the configuration's rules to values built in code, naming the key."""
    with pytest.raises(ValueError, match=key):
        check("capture", values)
    check("capture", {"max_dimension": None, "interval": 0.2})
