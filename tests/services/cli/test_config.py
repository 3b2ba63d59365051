"""`ctxbus config` and bad configuration at the command line (the layering: foundation tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.foundation.config import KEYS
from tests.services.cli.conftest import ctxbus


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


async def test_ctxbus_config_lists_every_key(runtime_dir: Path) -> None:
    """`ctxbus config`: a line per key with value, source and variable; unset shows (none)."""
    ran = await ctxbus(runtime_dir, "config", env={"CTXBUS_CAPTURE_QUALITY": "42"})
    assert ran.code == 0, ran.err
    rows = {line.split()[0]: line.split()[1:] for line in ran.out.splitlines()[1:] if line.strip()}
    assert {key.name for key in KEYS} <= set(rows)
    assert rows["capture.quality"] == ["42", "env", "CTXBUS_CAPTURE_QUALITY"]
    assert rows["capture.max_dimension"] == ["(none)", "default", "CTXBUS_CAPTURE_MAX_DIMENSION"]


@pytest.mark.parametrize(
    ("args", "env", "key", "source"),
    [
        (("main",), {"CTXBUS_MAIN_PORT": "99999"}, "main.port", "$CTXBUS_MAIN_PORT"),
        (("config", "--frontend-port", "70000"), {}, "frontend.port", "from a flag"),
        (("up",), {"CTXBUS_CAPTURE_QUALITY": "500"}, "capture.quality", "$CTXBUS_CAPTURE_QUALITY"),
    ],
)
async def test_bad_value_stops_the_command_with_exit_2(
    runtime_dir: Path, args: tuple[str, ...], env: dict[str, str], key: str, source: str
) -> None:
    """`ctxbus main`, `config`, `up`: a bad value exits 2 at once, naming the key and its source."""
    ran = await ctxbus(runtime_dir, *args, env=env)
    assert ran.code == 2, ran.err
    assert f"for {key} (" in ran.err
    assert source in ran.err
    assert not (runtime_dir / "log").exists(), "nothing was started"
