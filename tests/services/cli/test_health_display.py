"""``ctxbus status`` and ``--follow`` show a running backend's degraded health and its reason."""

from __future__ import annotations

from msgspec.structs import replace
from rich.text import Text

from bus import BackendStatus, ComponentStatus, Update
from bus import endpoints as names
from services.cli.commands import backend_reason, backend_state
from services.cli.follow import describe

DAMAGED = "database: damaged: database disk image is malformed"


RUNNING = BackendStatus(state="running", port=1733, pid=42, health="degraded", seq=7)


def test_degraded_running_backend_shows_the_reason() -> None:
    """running + degraded: the state says so and the reason column holds /health's reason."""
    status = replace(RUNNING, health_reason=DAMAGED)
    assert backend_state(status) == "[green]running[/green] [yellow](degraded)[/yellow]"
    assert backend_reason(status) == DAMAGED


def test_healthy_or_stopped_backend_shows_no_health() -> None:
    """ok health adds nothing; a stopped backend shows its own reason, never an old health."""
    healthy = replace(RUNNING, health="ok")
    assert backend_state(healthy) == "[green]running[/green]"
    assert backend_reason(healthy) == ""
    stopped = replace(RUNNING, state="stopped", reason="stop requested", health=None)
    assert backend_state(stopped) == "[dim]stopped[/dim]"
    assert backend_reason(stopped) == "stop requested"


def test_follow_line_shows_degraded_and_reason() -> None:
    """``--follow``: one line with ``running (degraded)`` and the reason, and the event's seq."""
    line = describe(names.BACKEND_STATUS, Update("event", replace(RUNNING, health_reason=DAMAGED)))
    assert "backend [green]running[/green] [yellow](degraded)[/yellow] pid 42" in line
    assert line.endswith(f"[dim]({DAMAGED})[/] seq 7")


def test_follow_line_prints_event_text_as_text_not_markup() -> None:
    """A reason or component name holding rich markup is printed literally (events are data)."""
    forged = ComponentStatus(component="[link=x]capture", state="error", reason="[bold red]boom")
    line = describe(names.COMPONENT_STATUS, Update("event", forged))
    rendered = Text.from_markup(line).plain
    assert "[link=x]capture" in rendered
    assert "[bold red]boom" in rendered
