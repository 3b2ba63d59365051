"""main's settings from the layered configuration: ``main.start_hold``."""

from __future__ import annotations

import pytest

from services.foundation.config import ConfigError, load_config
from services.main.settings import MainSettings


def test_start_hold_defaults_to_ten_seconds() -> None:
    """Without configuration, requests wait 10 s for a starting backend."""
    assert MainSettings.from_config(load_config(env={})).start_hold == 10.0


def test_start_hold_comes_from_the_environment() -> None:
    """CTXBUS_MAIN_START_HOLD reaches main's settings."""
    config = load_config(env={"CTXBUS_MAIN_START_HOLD": "2.5"})
    assert MainSettings.from_config(config).start_hold == 2.5


def test_negative_start_hold_is_refused_naming_the_key() -> None:
    """A negative hold is a configuration error that names main.start_hold."""
    with pytest.raises(ConfigError, match=r"main\.start_hold"):
        load_config(env={"CTXBUS_MAIN_START_HOLD": "-1"})
