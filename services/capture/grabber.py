"""Grab every monitor with mss; blocking calls, run off the event loop by the caller.

mss raises its ``XError`` when no display can be opened, and an ``AssertionError`` from inside
XCB when the X server goes away mid-session; both become :class:`GrabError` with a reason a user
can act on, and the next grab opens a fresh connection.
"""

from __future__ import annotations

import contextlib
import os
import time

import mss

from bus import ServiceError
from services.capture.frames import RawFrame, new_frame_id


class GrabError(ServiceError):
    """The screen cannot be grabbed now; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_display_reason(display: str | None) -> str:
    if not display:
        return "no display: DISPLAY is not set; run ctxbus inside a graphical session"
    return f"cannot open display {display}; is the X server running?"


class Grabber:
    """One mss connection to ``display`` (default ``$DISPLAY``), reopened after any failure."""

    def __init__(self, display: str | None = None) -> None:
        self.display = display
        self._mss: mss.MSS | None = None

    def _target(self) -> str | None:
        return self.display or os.environ.get("DISPLAY")

    def _open(self) -> mss.MSS:
        if self._mss is None:
            target = self._target()
            try:
                self._mss = mss.MSS(display=target) if target else mss.MSS()
            except Exception as exc:  # mss raises XError (or others) per backend
                raise GrabError(_no_display_reason(target)) from exc
        return self._mss

    def grab_all(self) -> list[RawFrame]:
        """One frame per monitor (1..n), or :class:`GrabError`; blocking."""
        screen = self._open()
        try:
            monitors = screen.monitors[1:]
            return [self._grab(screen, index, monitor) for index, monitor in enumerate(monitors, 1)]
        except Exception as exc:  # a dead X connection surfaces as AssertionError
            self.close()
            detail = str(exc) or type(exc).__name__
            raise GrabError(f"screen grab failed ({detail}); retrying") from exc

    @staticmethod
    def _grab(screen: mss.MSS, index: int, monitor: dict[str, int]) -> RawFrame:
        captured_at = time.time()
        shot = screen.grab(monitor)
        return RawFrame(
            id=new_frame_id(),
            monitor=index,
            captured_at=captured_at,
            width=shot.width,
            height=shot.height,
            bgra=shot.raw,
            left=monitor["left"],
            top=monitor["top"],
        )

    def close(self) -> None:
        """Drop the connection; the next grab opens a new one."""
        screen, self._mss = self._mss, None
        if screen is not None:
            with contextlib.suppress(Exception):  # closing a dead connection raises; no matter
                screen.close()
