"""Configuration layering: built-in defaults < TOML file < ``CTXBUS_*`` environment < flags.

Every key has one dotted name, used in the TOML file (``[main] port = 1733``), in the environment
(``main.port`` → ``CTXBUS_MAIN_PORT``) and in ``ctxbus config``. The keys, their types, ranges and
defaults are the msgspec structs below, one table per process; :func:`load_config` decodes each
key from the highest layer that sets it (``msgspec.convert``, which reads numbers and booleans
from environment text), records where it came from, and refuses a bad value with a message naming
the key and its source. Every process builds its settings from the :class:`Config` it loads; a
parent hands its configuration to a child with :meth:`Config.to_env`.

``CTXBUS_BACKEND_*`` (main → backend spawn contract), ``CTXBUS_TRANSPORT`` and
``CTXBUS_TCP_BASE_PORT`` (the bus) are not configuration keys; ``CTXBUS_RUNTIME_DIR`` is the bus's
own variable and means the same thing here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from msgspec import inspect as types

from bus import endpoints
from bus.errors import SetupError
from bus.messages import ExcludeRule
from services.foundation import basedirs

CONFIG_FILE_ENV = "CTXBUS_CONFIG"
CONFIG_FILE_NAME = "config.toml"
DEFAULT_BACKEND_PORT = 1733
DEFAULT_FRONTEND_PORT = 1734
DEFAULT_START_HOLD = 10.0  # seconds; then main answers 503 itself
MiB = 1024 * 1024
HOUR = 3600.0
DAY = 24 * HOUR

Source = Literal["default", "file", "env", "flag"]
Rules = tuple[ExcludeRule, ...]
Value = str | int | float | bool | Path | Rules | None
ImageFormat = Literal["webp", "png", "jpeg"]
Port = Annotated[int, Meta(ge=0, le=65535)]


class ConfigError(SetupError):
    """A configuration value is unusable; the message names the key and where it was set."""


class MainConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[main]``: main and the backend it supervises."""

    port: Annotated[Port, Meta(description="the backend's port (held by main); 0: any free")] = (
        DEFAULT_BACKEND_PORT
    )
    standby: Annotated[bool, Meta(description="keep a warm standby backend")] = True
    start_hold: Annotated[
        float, Meta(ge=0, le=3600, description="seconds requests wait for a starting backend")
    ] = DEFAULT_START_HOLD


class FrontendConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[frontend]``: the dashboard process."""

    port: Annotated[Port, Meta(description="the dashboard's port; 0: any free port")] = (
        DEFAULT_FRONTEND_PORT
    )
    session_idle: Annotated[
        float, Meta(gt=0, description="seconds a dashboard session lasts without a request")
    ] = 12 * HOUR
    session_max: Annotated[
        float, Meta(gt=0, description="seconds a dashboard session lasts after its login")
    ] = 7 * DAY


class CaptureConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[capture]``: how often and how frames are grabbed, kept, encoded and spooled."""

    interval: Annotated[float, Meta(ge=0.2, le=3600, description="seconds between grabs")] = 5.0
    format: Annotated[ImageFormat, Meta(description="image format of kept frames")] = "webp"
    quality: Annotated[int, Meta(ge=1, le=100, description="encoder quality")] = 80
    method: Annotated[int, Meta(ge=0, le=6, description="WebP effort: 0 fast, 6 small")] = 0
    lossless: Annotated[bool, Meta(description="lossless WebP")] = False
    max_dimension: Annotated[int, Meta(ge=64, description="fit frames in N pixels")] | None = None
    threshold: Annotated[float, Meta(ge=0, le=1, description="share that must change")] = 0.001
    spool_max_bytes: Annotated[int, Meta(ge=MiB, description="spool size limit, bytes")] = 512 * MiB
    spool_max_age: Annotated[float, Meta(gt=0, description="spool age limit, seconds")] = 7 * DAY
    settle: Annotated[
        float, Meta(ge=0.1, le=60, description="seconds a new active window stays, then a grab")
    ] = 1.0
    idle_after: Annotated[
        float, Meta(ge=1, le=3600, description="seconds without input before capture pauses")
    ] = 120.0
    default_excludes: Annotated[
        bool, Meta(description="never record password managers, private browser windows")
    ] = True
    exclude: Annotated[
        Rules, Meta(description="windows never recorded: {app|title|process = glob}")
    ] = ()


class IndexerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[indexer]``: reading the text on stored captures (tesseract)."""

    enabled: Annotated[bool, Meta(description="read the text of captures (off: it waits)")] = True
    languages: Annotated[
        str,
        Meta(
            pattern=r"^[a-z_]+(\+[a-z_]+)*$",
            description="tesseract languages, joined by + (eng+chi_sim)",
        ),
    ] = "eng+chi_sim"


def default_data_dir() -> Path:
    """The user's data dir for ctxbus (XDG: ``~/.local/share/ctxbus``)."""
    return basedirs.user_data_dir()


def default_log_dir() -> Path:
    """The user's log dir for ctxbus (XDG: ``~/.local/state/ctxbus/log``)."""
    return basedirs.user_log_dir()


class Keys(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every configuration key: the directories at the top level, then one table per process."""

    runtime_dir: Annotated[Path, Meta(description="bus sockets, locks, process records")] = (
        msgspec.field(default_factory=endpoints.default_runtime_dir)
    )
    data_dir: Annotated[Path, Meta(description="the backend's data (SQLite, files)")] = (
        msgspec.field(default_factory=default_data_dir)
    )
    log_dir: Annotated[Path, Meta(description="every process's log files")] = msgspec.field(
        default_factory=default_log_dir
    )
    main: MainConfig = msgspec.field(default_factory=MainConfig)
    frontend: FrontendConfig = msgspec.field(default_factory=FrontendConfig)
    capture: CaptureConfig = msgspec.field(default_factory=CaptureConfig)
    indexer: IndexerConfig = msgspec.field(default_factory=IndexerConfig)


class Config(Keys, frozen=True, kw_only=True):
    """The effective configuration of one ctxbus run, with where each value came from."""

    file: Path | None = None
    sources: Mapping[str, Source] = msgspec.field(default_factory=dict)

    def value(self, name: str) -> Value:
        """The value of the dotted key ``name``."""
        section, _, attr = name.rpartition(".")
        value: Value = getattr(getattr(self, section) if section else self, attr)
        return value

    def is_set(self, name: str) -> bool:
        """Whether the key ``name`` was set (file, environment or flag), not left at its default."""
        return self.sources.get(name, "default") != "default"

    def to_env(self) -> dict[str, str]:
        """``CTXBUS_*`` variables that make a child process load this same configuration.

        Only the keys that were set: the child computes the defaults itself, so a key that is set
        for the parent (a pinned ``main.port``) is set for the child, and a default stays one.
        """
        env = {key.env: _env_text(self.value(key.name)) for key in KEYS if self.is_set(key.name)}
        if self.file is not None:
            env[CONFIG_FILE_ENV] = str(self.file)
        return env


def _env_text(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return msgspec.json.encode(value).decode()
    return str(value)


class Key(msgspec.Struct, frozen=True):
    """One configuration key: its dotted name, its (annotated) type and its struct field."""

    name: str
    type: Any  # an Annotated type, as msgspec.convert takes it
    field: msgspec.structs.FieldInfo

    @property
    def env(self) -> str:
        if self.name == "runtime_dir":
            return endpoints.RUNTIME_DIR_ENV
        return "CTXBUS_" + self.name.replace(".", "_").upper()

    @property
    def help(self) -> str:
        info = _plain(types.type_info(self.type))
        if isinstance(info, types.Metadata) and info.extra_json_schema:
            return str(info.extra_json_schema.get("description", ""))
        return ""

    def default(self) -> Value:
        if self.field.default is not msgspec.NODEFAULT:
            value: Value = self.field.default
            return value
        made: Value = self.field.default_factory()
        return made

    def decode(self, raw: object) -> Value:
        """``raw`` (a TOML value, environment text or a flag) as this key's type, or ValueError."""
        info = _plain(types.type_info(self.type))
        try:
            value: Value = msgspec.convert(
                _normalise(raw, info), self.type, strict=False, dec_hook=_decode_path
            )
        except msgspec.ValidationError:
            base = info.type if isinstance(info, types.Metadata) else info
            if isinstance(base, types.VarTupleType):
                raise ValueError(_bad_rule(raw)) from None  # noqa: TRY004 - decode's one error type
            raise ValueError(expectation(info)) from None
        return value


def _plain(info: types.Type) -> types.Type:
    """``T | None`` as ``T``: None is a default, never a value someone sets."""
    if isinstance(info, types.UnionType):
        return next(t for t in info.types if not isinstance(t, types.NoneType))
    return info


_WORDS = {"on": "true", "yes": "true", "off": "false", "no": "false"}


def _normalise(raw: object, info: types.Type) -> object:
    """Text as msgspec reads it: trimmed; on/off and yes/no for booleans; choices in any case;
    a list (of rules) as JSON."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    base = info.type if isinstance(info, types.Metadata) else info
    if isinstance(base, types.VarTupleType):
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError:
            raise ValueError(f"must be a JSON list of rules, like {RULE_EXAMPLE}") from None
    if isinstance(base, types.BoolType):
        return _WORDS.get(text.lower(), text)
    if isinstance(base, types.LiteralType):
        return text.lower()
    return text


def _decode_path(kind: type, raw: object) -> object:
    if kind is Path and isinstance(raw, str) and raw.strip():
        return Path(raw).expanduser()
    raise ValueError("must be a directory path")


RULE_EXAMPLE = '[{"app": "KeePassXC"}, {"title": "*Private Browsing*"}, {"process": "keepassxc"}]'


def _bad_rule(raw: object) -> str:
    """Which rule of ``raw`` is malformed, and why."""
    if not isinstance(raw, list | tuple):
        return f"must be a list of rules, like {RULE_EXAMPLE}"
    for number, rule in enumerate(raw, 1):
        try:
            msgspec.convert(rule, ExcludeRule)
        except msgspec.ValidationError as exc:
            return (
                f"rule {number} ({rule!r}) is malformed: {exc}; a rule sets app, title or "
                'process to a glob pattern, like {app = "KeePassXC"}'
            )
    return f"must be a list of rules, like {RULE_EXAMPLE}"


def expectation(info: types.Type) -> str:
    """What a value of the type ``info`` must be, in words ("must be an integer from 1 to 100")."""
    if isinstance(info, types.Metadata):
        return expectation(info.type)
    if isinstance(info, types.BoolType):
        return "must be on/off (true/false, yes/no, 1/0)"
    if isinstance(info, types.LiteralType):
        return "must be one of " + ", ".join(str(value) for value in info.values)
    if isinstance(info, types.IntType):
        return "must be an integer" + _bounds(info)
    if isinstance(info, types.FloatType):
        return "must be a number" + _bounds(info)
    if isinstance(info, types.StrType):
        return f"must be text matching {info.pattern}" if info.pattern else "must be text"
    return "must be a directory path"


def _bounds(info: types.IntType | types.FloatType) -> str:
    if info.ge is not None and info.le is not None:
        return f" from {info.ge:g} to {info.le:g}"
    if info.ge is not None:
        return f" of at least {info.ge:g}"
    if info.gt is not None:
        return f" above {info.gt:g}"
    return ""


def _keys(struct: type[msgspec.Struct], prefix: str = "") -> tuple[Key, ...]:
    keys: list[Key] = []
    for field in msgspec.structs.fields(struct):
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            keys.extend(_keys(field.type, f"{prefix}{field.name}."))
        else:
            keys.append(Key(f"{prefix}{field.name}", field.type, field))
    return tuple(keys)


KEYS: tuple[Key, ...] = _keys(Keys)
KEYS_BY_NAME = {key.name: key for key in KEYS}


def check(section: str, values: Mapping[str, object]) -> None:
    """ValueError naming the first key of ``section`` whose value is out of its range.

    For settings built in code (tests, benchmarks), so they obey the same rules as loaded ones.
    """
    for name, value in values.items():
        key = KEYS_BY_NAME[f"{section}.{name}"]
        if value is None and key.field.default is None:
            continue
        try:
            key.decode(value)
        except ValueError as exc:
            raise ValueError(f"{key.name} {exc}") from None


def default_config_file() -> Path:
    """``<user config dir>/ctxbus/config.toml``."""
    return basedirs.user_config_dir() / CONFIG_FILE_NAME


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


def _choose_file(path: Path | None, env: Mapping[str, str]) -> Path | None:
    """``--config``, else ``$CTXBUS_CONFIG`` (both must exist), else the user file if present."""
    if path is not None:
        return path
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV])
    default = default_config_file()
    return default if default.exists() else None


Layers = list[tuple[Source, Mapping[str, object]]]


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Config:
    """The effective configuration: defaults < file < ``CTXBUS_*`` env < ``flags`` (dotted keys).

    ``path`` is ``--config``; without it ``$CTXBUS_CONFIG``, else the user config file if present.
    A flag whose value is None was not given.
    """
    environ = os.environ if env is None else env
    file = _choose_file(path, environ)
    layers: Layers = [
        ("file", read_file(file) if file is not None else {}),
        ("env", {key.name: environ[key.env] for key in KEYS if environ.get(key.env)}),
        ("flag", {name: value for name, value in (flags or {}).items() if value is not None}),
    ]
    unknown = sorted(set(layers[2][1]) - set(KEYS_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown configuration key {unknown[0]!r} given as a flag")
    tables: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for key in KEYS:
        value, sources[key.name] = _resolve(key, layers, file)
        section, _, attr = key.name.rpartition(".")
        (tables.setdefault(section, {}) if section else tables)[attr] = value
    sections = {name: msgspec.convert(tables[name], struct) for name, struct in _SECTIONS.items()}
    return Config(**{**tables, **sections}, file=file, sources=sources)


_SECTIONS: dict[str, type[msgspec.Struct]] = {
    field.name: field.type
    for field in msgspec.structs.fields(Keys)
    if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct)
}


def _resolve(key: Key, layers: Layers, file: Path | None) -> tuple[Value, Source]:
    for source, layer in reversed(layers):
        if key.name in layer:
            try:
                return key.decode(layer[key.name]), source
            except ValueError as exc:
                where = {"file": f"in {file}", "env": f"from ${key.env}", "flag": "from a flag"}
                raise ConfigError(
                    f"bad value {layer[key.name]!r} for {key.name} ({where[source]}): {exc}"
                ) from None
    return key.default(), "default"
