"""What is on screen: the active window, read through one small interface per platform.

A :class:`WindowReader` answers :meth:`~WindowReader.read` with the active window's
:class:`WindowInfo` (or None), and :meth:`~WindowReader.idle_seconds` with the time since the
user's last input. When it cannot read windows at all (no X server, Wayland without XWayland, a
platform not done yet) ``unavailable_reason`` says why; capture goes on with pixels only. Readers
are blocking; the capture process calls them in a thread, one call at a time.

:func:`open_reader` picks the reader of this platform: the X11 reader
(:mod:`services.capture.windows.x11`) on Linux and the BSDs; elsewhere an
:class:`UnavailableReader`, until a reader for it is written.
"""

from __future__ import annotations

import os
import sys
from typing import Protocol

import msgspec

TITLE_MAX = 512  # characters of a title kept with a capture


class Rect(msgspec.Struct, frozen=True):
    """A rectangle in root-window (virtual screen) coordinates."""

    left: int
    top: int
    width: int
    height: int

    def overlaps(self, other: Rect) -> bool:
        """Whether the two rectangles share at least one pixel."""
        return (
            self.left < other.left + other.width
            and other.left < self.left + self.width
            and self.top < other.top + other.height
            and other.top < self.top + self.height
        )


class WindowInfo(msgspec.Struct, frozen=True):
    """The active window at one moment: who it belongs to and where it is."""

    window: int  # the platform's window id
    app: str | None  # the application (WM_CLASS's class part on X11)
    title: str | None  # at most TITLE_MAX characters
    pid: int | None
    process: str | None  # the process name
    exe: str | None  # the process's executable
    rect: Rect | None  # where it is, in root coordinates; None if unknown

    def same_as(self, other: WindowInfo | None) -> bool:
        """The same window showing the same thing (id, app and title)."""
        return other is not None and (self.window, self.app, self.title) == (
            other.window,
            other.app,
            other.title,
        )


class WindowReader(Protocol):
    """Reads the active window and the user's idle time; blocking, one call at a time."""

    @property
    def unavailable_reason(self) -> str | None:
        """Why windows cannot be read now; None while they can."""
        ...

    def read(self) -> WindowInfo | None:
        """The active window, or None (no active window, or the reader is unavailable)."""
        ...

    def idle_seconds(self) -> float | None:
        """Seconds since the last input, ``inf`` while a screen saver or lock is on; None if
        unknown."""
        ...

    def close(self) -> None:
        """Release the connection; a later call opens a new one."""
        ...


class UnavailableReader:
    """A reader for where windows cannot be read: always None, with the reason."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason

    def read(self) -> WindowInfo | None:
        return None

    def idle_seconds(self) -> float | None:
        return None

    def close(self) -> None:
        pass


def open_reader(display: str | None = None) -> WindowReader:
    """The reader of this platform for ``display`` (default ``$DISPLAY``); never raises."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        from services.capture.windows.x11 import X11Reader  # python-xlib only here

        return X11Reader(display)
    return UnavailableReader(f"reading windows is not done yet on {sys.platform}")


def no_display_reason(display: str | None) -> str:
    """Why there is no X display to read windows from."""
    if display:
        return f"cannot open display {display}; is the X server running?"
    if os.environ.get("WAYLAND_DISPLAY"):
        return "Wayland without XWayland: windows cannot be read (DISPLAY is not set)"
    return "no display: DISPLAY is not set"


__all__ = [
    "TITLE_MAX",
    "Rect",
    "UnavailableReader",
    "WindowInfo",
    "WindowReader",
    "no_display_reason",
    "open_reader",
]
