"""What `ctxbus up` prints for people: a component's reason is shown as it is, never as markup."""

from __future__ import annotations

import pytest

from bus import ComponentStatus
from services.foundation.terminal import Output
from services.launcher.report import Report

REASON = "exit 1: cannot open [/srv/data] ([red]denied[/red])"


def people_report() -> Report:
    return Report(Output(json_mode=False))


def test_a_restart_reason_with_brackets_is_printed_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A reason holding `[/x]` and `[red]` is printed literally (rich would fail or style it)."""
    people_report().restarting(
        ComponentStatus(component="capture", state="starting", reason=REASON, restarts=1)
    )
    assert f"capture ended ({REASON}); restarting it" in capsys.readouterr().out


def test_a_gave_up_reason_with_brackets_is_printed_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first line of a give-up reason is printed literally."""
    people_report().gave_up(ComponentStatus(component="capture", state="error", reason=REASON))
    assert f"capture: {REASON}; see `ctxbus logs capture`" in capsys.readouterr().out
