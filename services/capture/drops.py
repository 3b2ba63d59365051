"""Log every dropped frame with its reason, without flooding the log.

The first drop of a reason is logged at once (``frames_dropped``, a warning with the detail).
Further drops of that reason are counted and logged as one ``frames_dropped_summary`` line per
reason per ``every`` seconds (default 60): at the first drop after the window ends, or at
:meth:`DropLog.flush`. A reason that has been quiet for a whole window logs its next drop at once
again. The counters in ``capture.status`` still count every frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import msgspec
import structlog

log = structlog.get_logger("capture.drops")

DropReason = Literal["disk_full", "spool_write_failed", "rejected", "spool_full", "expired"]
SUMMARY_EVERY = 60.0  # seconds: at most one summary line per reason in this time


class _Window(msgspec.Struct):
    started: float
    frames: int = 0  # dropped since ``started`` and not logged yet
    detail: str = ""


class DropLog:
    """Rate-limited logging of dropped frames, per reason; safe to call from several threads."""

    def __init__(
        self, every: float = SUMMARY_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self.clock = clock
        self._windows: dict[DropReason, _Window] = {}
        self._lock = threading.Lock()

    def __call__(self, reason: DropReason, frames: int, detail: str) -> None:
        """Record ``frames`` dropped for ``reason``; ``detail`` says what happened."""
        now = self.clock()
        with self._lock:
            window = self._windows.get(reason)
            if window is None or (now - window.started >= self.every and not window.frames):
                self._windows[reason] = _Window(started=now)
                log.warning("frames_dropped", reason=reason, frames=frames, detail=detail)
                return
            window.frames += frames
            window.detail = detail
            if now - window.started >= self.every:
                self._summarize(reason, window, now)

    def flush(self, *, everything: bool = False) -> None:
        """Log the summaries whose window has ended (``everything``: all of them, e.g. at stop)."""
        now = self.clock()
        with self._lock:
            for reason, window in self._windows.items():
                if window.frames and (everything or now - window.started >= self.every):
                    self._summarize(reason, window, now)

    @staticmethod
    def _summarize(reason: DropReason, window: _Window, now: float) -> None:
        log.warning(
            "frames_dropped_summary",
            reason=reason,
            frames=window.frames,
            seconds=round(now - window.started, 1),
            detail=window.detail,
        )
        window.started, window.frames = now, 0
