"""What capture knows about the screen beyond its pixels: the active window and the rules.

:class:`WindowContext` owns the platform's window reader (one connection, reused by every grab
and by the watcher), the privacy rules in force, and the file of the rules added at run time.
:meth:`WindowContext.grab` reads the active window just before and just after a grab and
attributes the grab (:mod:`services.capture.attribution`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from bus.messages import ExcludeRule
from services.capture.attribution import Attribution, attribute
from services.capture.frames import RawFrame
from services.capture.privacy import DEFAULT_EXCLUDES, RuleFile, Rules
from services.capture.settings import CaptureSettings
from services.capture.windows import WindowReader, open_reader

log = structlog.get_logger("capture.context")


class WindowContext:
    """The window reader and the privacy rules of one capture process."""

    def __init__(self, settings: CaptureSettings, reader: WindowReader | None = None) -> None:
        self.reader = reader if reader is not None else open_reader(settings.display)
        self.rule_file = RuleFile(settings.rule_file)
        defaults = DEFAULT_EXCLUDES if settings.default_excludes else ()
        saved = self.rule_file.load()
        self.rules = Rules((*defaults, *settings.exclude, *saved))
        log.info("privacy_rules", rules=len(self.rules), added_at_run_time=len(saved))

    def grab(self, grab_all: Callable[[], list[RawFrame]]) -> tuple[list[RawFrame], Attribution]:
        """``grab_all()`` between two reads of the active window, attributed; blocking."""
        before = self.reader.read()
        frames = grab_all()
        after = self.reader.read()
        return frames, attribute(before, after, frames, self.rules)

    @property
    def unavailable_reason(self) -> str | None:
        """Why windows cannot be read (None while they can)."""
        return self.reader.unavailable_reason

    async def add_rule(self, rule: ExcludeRule) -> None:
        """Put ``rule`` in force now and keep it for later runs."""
        self.rules.add(rule)  # in force before the file is written: the next grab obeys it
        await asyncio.to_thread(self.rule_file.add, rule)
        log.info("privacy_rule_added", fields=sorted(_set_fields(rule)))  # never the patterns

    def close(self) -> None:
        self.reader.close()


def _set_fields(rule: ExcludeRule) -> set[str]:
    return {name for name in ("app", "title", "process") if getattr(rule, name) is not None}
