"""Configuration layering: built-in defaults < TOML file < ``CTXBUS_*`` environment < flags.

Every key has one dotted name, used in the TOML file (``[main] port = 1733``), in the environment
(``main.port`` → ``CTXBUS_MAIN_PORT``) and in ``ctxbus config``. :func:`load_config` records where
each effective value came from and refuses a bad value with a message naming the key and its
source. ``CTXBUS_BACKEND_*`` (main → backend spawn contract), ``CTXBUS_TRANSPORT`` and
``CTXBUS_TCP_BASE_PORT`` (the bus) are not configuration keys; ``CTXBUS_RUNTIME_DIR`` is the bus's
own variable and means the same thing here.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

from bus import endpoints
from bus.errors import SetupError

CONFIG_FILE_ENV = "CTXBUS_CONFIG"
CONFIG_FILE_NAME = "config.toml"
DEFAULT_BACKEND_PORT = 1733
DEFAULT_FRONTEND_PORT = 1734
CAPTURE_FORMATS = ("webp", "png", "jpeg")
MIN_CAPTURE_INTERVAL = 0.2
MAX_CAPTURE_INTERVAL = 3600.0

Source = Literal["default", "file", "env", "flag"]
Value = str | int | float | bool | Path


class ConfigError(SetupError):
    """A configuration value is unusable; the message names the key and where it was set."""


def _port(raw: object) -> int:
    port = _integer(raw)
    if not 0 <= port <= 65535:
        raise ValueError("must be a port number from 0 to 65535 (0: any free port)")
    return port


def _integer(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    raise ValueError("must be an integer")


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be on/off (true/false, yes/no, 1/0)")


def _interval(raw: object) -> float:
    seconds = float("nan")
    if isinstance(raw, int | float | str) and not isinstance(raw, bool):
        with contextlib.suppress(ValueError):
            seconds = float(raw)
    if seconds != seconds:  # NaN: not a number
        raise ValueError("must be a number of seconds")
    if not MIN_CAPTURE_INTERVAL <= seconds <= MAX_CAPTURE_INTERVAL:
        raise ValueError(
            f"must be from {MIN_CAPTURE_INTERVAL:g} s to {MAX_CAPTURE_INTERVAL:g} s (1 h)"
        )
    return seconds


def _format(raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in CAPTURE_FORMATS:
        raise ValueError(f"must be one of {', '.join(CAPTURE_FORMATS)}")
    return text


def _quality(raw: object) -> int:
    quality = _integer(raw)
    if not 1 <= quality <= 100:
        raise ValueError("must be from 1 to 100")
    return quality


def _path(raw: object) -> Path:
    if not isinstance(raw, str | Path) or not str(raw).strip():
        raise ValueError("must be a directory path")
    return Path(raw).expanduser()


def _default_runtime_dir() -> Path:
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs warns and falls back to /tmp/runtime-<uid>: fine.
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(endpoints.APP_NAME))


@dataclass(frozen=True, slots=True)
class Key:
    """One configuration key: its dotted name, parser and built-in default."""

    name: str
    parse: Callable[[object], Value]
    default: Callable[[], Value]
    help: str

    @property
    def env(self) -> str:
        if self.name == "runtime_dir":
            return endpoints.RUNTIME_DIR_ENV
        return "CTXBUS_" + self.name.replace(".", "_").upper()

    @property
    def attr(self) -> str:
        return self.name.replace(".", "_")


KEYS: tuple[Key, ...] = (
    Key("runtime_dir", _path, _default_runtime_dir, "bus sockets, locks, process records"),
    Key(
        "data_dir",
        _path,
        lambda: Path(platformdirs.user_data_dir(endpoints.APP_NAME)),
        "the backend's data (SQLite, files)",
    ),
    Key(
        "log_dir",
        _path,
        lambda: Path(platformdirs.user_log_dir(endpoints.APP_NAME)),
        "every process's log files",
    ),
    Key("main.port", _port, lambda: DEFAULT_BACKEND_PORT, "the backend's port (held by main)"),
    Key("main.standby", _boolean, lambda: True, "keep a warm standby backend"),
    Key("frontend.port", _port, lambda: DEFAULT_FRONTEND_PORT, "the dashboard's port"),
    Key("capture.interval", _interval, lambda: 5.0, "seconds between screen grabs"),
    Key("capture.format", _format, lambda: "webp", "image format of kept frames"),
    Key("capture.quality", _quality, lambda: 80, "encoder quality, 1-100"),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration of one ctxbus run, with where each value came from."""

    runtime_dir: Path
    data_dir: Path
    log_dir: Path
    main_port: int
    main_standby: bool
    frontend_port: int
    capture_interval: float
    capture_format: str
    capture_quality: int
    file: Path | None = None
    sources: Mapping[str, Source] = field(default_factory=dict)

    def value(self, name: str) -> Value:
        """The value of the dotted key ``name``."""
        value: Value = getattr(self, KEYS_BY_NAME[name].attr)
        return value

    def to_env(self) -> dict[str, str]:
        """``CTXBUS_*`` variables that make a child process load this same configuration."""
        env = {key.env: _env_text(self.value(key.name)) for key in KEYS}
        if self.file is not None:
            env[CONFIG_FILE_ENV] = str(self.file)
        return env


def _env_text(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def default_config_file() -> Path:
    """``<user config dir>/ctxbus/config.toml``."""
    return Path(platformdirs.user_config_dir(endpoints.APP_NAME)) / CONFIG_FILE_NAME


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for name, value in table.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def read_file(path: Path) -> dict[str, object]:
    """The dotted keys set in the TOML file ``path``; :class:`ConfigError` if it is unusable."""
    try:
        with path.open("rb") as stream:
            table = tomllib.load(stream)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from exc
    values = _flatten(table)
    unknown = sorted(set(values) - set(KEYS_BY_NAME))
    if unknown:
        known = ", ".join(KEYS_BY_NAME)
        raise ConfigError(f"unknown key {unknown[0]!r} in {path}; the keys are: {known}")
    return values


def _choose_file(path: Path | None, env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """(file to read, whether it must exist)."""
    if path is not None:
        return path, True
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV]), True
    default = default_config_file()
    return (default, False) if default.exists() else (None, False)


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Config:
    """The effective configuration: defaults < file < ``CTXBUS_*`` env < ``flags`` (dotted keys).

    ``path`` is ``--config``; without it ``$CTXBUS_CONFIG``, else the user config file if present.
    """
    environ = os.environ if env is None else env
    file, _ = _choose_file(path, environ)
    layers: list[tuple[Source, Mapping[str, object]]] = [
        ("file", read_file(file) if file is not None else {}),
        ("env", {key.name: environ[key.env] for key in KEYS if environ.get(key.env)}),
        ("flag", {name: value for name, value in (flags or {}).items() if value is not None}),
    ]
    values: dict[str, object] = {}
    sources: dict[str, Source] = {}
    for key in KEYS:
        values[key.attr], sources[key.name] = _resolve(key, layers, file)
    return Config(**values, file=file, sources=sources)  # type: ignore[arg-type]


def _resolve(
    key: Key, layers: list[tuple[Source, Mapping[str, object]]], file: Path | None
) -> tuple[Value, Source]:
    for source, layer in reversed(layers):
        if key.name in layer:
            try:
                return key.parse(layer[key.name]), source
            except ValueError as exc:
                where = {"file": f"in {file}", "env": f"from ${key.env}", "flag": "from a flag"}
                raise ConfigError(
                    f"bad value {layer[key.name]!r} for {key.name} ({where[source]}): {exc}"
                ) from None
    return key.default(), "default"
