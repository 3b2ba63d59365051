"""What the tools print: rich tables for people (colours only on a terminal), JSON for scripts.

rich is imported when something is first printed for people: ``ctxbus up --json`` (a launcher
that prints only JSON) never loads it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from rich.console import Console

STATE_STYLES = {
    "running": "green",
    "starting": "yellow",
    "stopping": "yellow",
    "paused": "yellow",
    "stopped": "dim",
    "error": "bold red",
    "unavailable": "red",
    "lost": "bold red",
    "back": "green",
}

_encoder = msgspec.json.Encoder(enc_hook=str)
UNBOUNDED_WIDTH = 10_000  # the table width off a terminal: as wide as its values


def to_json(value: object) -> str:
    """One line of JSON for any struct, dict, list or scalar (paths as strings)."""
    return _encoder.encode(value).decode()


def styled(state: str) -> str:
    style = STATE_STYLES.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


def age(ts: float | None) -> str:
    """``1h 02m``/``3m 04s``/``5s`` since the wall-clock time ``ts``."""
    if not ts:
        return "-"
    seconds = max(0, int(time.time() - ts))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def plain(text: object) -> str:
    """``text`` as it is in rich's markup: a reason, a message or a path is data, and a ``[/x]`` in
    it must neither style nor break the line."""
    from rich.markup import escape  # here: only output for people needs it

    return escape(str(text))


class Output:
    """Where a command's results and errors go, in the mode the user chose."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode

    @cached_property
    def console(self) -> Console:
        """Standard output for people, made on first use."""
        from rich.console import Console

        console = Console(highlight=False)
        if not console.is_terminal:
            # Off a terminal rich assumes 80 columns; a pipe or a file has no width to respect.
            console.width = UNBOUNDED_WIDTH
        return console

    @cached_property
    def errors(self) -> Console:
        """Standard error, made on first use."""
        from rich.console import Console

        return Console(stderr=True, highlight=False)

    def data(self, value: object) -> None:
        """One JSON object per line (``--json`` mode)."""
        sys.stdout.write(to_json(value) + "\n")
        sys.stdout.flush()

    def say(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)  # a URL must stay on one line

    def result(self, value: object, text: str | Callable[[], str]) -> None:
        """``value`` as JSON in ``--json`` mode, else ``text`` for people (made only then, if a
        function: text that escapes data with :func:`plain` needs rich)."""
        if self.json_mode:
            self.data(value)
        else:
            self.say(text() if callable(text) else text)

    def error(self, message: str) -> None:
        if self.json_mode:
            self.data({"ok": False, "error": message})
        self.errors.print(f"[red]ctxbus:[/red] {message}", markup=True, soft_wrap=True)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Columns sized to their values; never a cut value (folded on a terminal, else whole)."""
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        self.console.print(table)
