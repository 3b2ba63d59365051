"""The active window on X11, with python-xlib over one connection kept open.

Under an EWMH window manager the root window's ``_NET_ACTIVE_WINDOW`` names the active window;
without one (bare X, a minimal WM) the input focus is walked up to the first window that has a
``WM_CLASS``: the client's top-level window. Title: ``_NET_WM_NAME`` (UTF-8), else ``WM_NAME``;
application: the class part of ``WM_CLASS``; pid: ``_NET_WM_PID``, whose name and executable come
from psutil. The geometry is translated to root coordinates, so the caller can tell which
monitors the window covers. Idle time comes from the MIT-SCREEN-SAVER extension.

A window that vanishes between two requests reads as None; a connection that breaks is dropped
and reopened on the next call.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from pathlib import Path
from typing import Any

import psutil
import structlog
from Xlib import X, Xatom, error
from Xlib.display import Display
from Xlib.ext import screensaver
from Xlib.xobject.drawable import Window

from services.capture.windows import TITLE_MAX, Rect, WindowInfo, no_display_reason

log = structlog.get_logger("capture.windows")

SCREEN_SAVER_EXTENSION = "MIT-SCREEN-SAVER"
X11_SOCKETS = Path("/tmp/.X11-unix")
MAX_DEPTH = 64  # parents walked up from the focus before giving up
PROCESS_CACHE = 64  # (pid, create time) → name and exe, kept for this many processes
_WINDOW_GONE = (error.BadWindow, error.BadDrawable, error.BadMatch, error.BadValue)
_BROKEN = (error.ConnectionClosedError, error.XError, OSError)  # the connection is unusable
_CANNOT_OPEN = (error.DisplayError, error.XauthError, error.ConnectionClosedError, OSError)


class _Connection:
    """An open display, its root window and the atoms the reader asks for."""

    def __init__(self, name: str | None) -> None:
        self.display = Display(name)
        self.root = self.display.screen().root
        atom = self.display.intern_atom
        self.active = atom("_NET_ACTIVE_WINDOW")
        self.net_name = atom("_NET_WM_NAME")
        self.utf8 = atom("UTF8_STRING")
        self.net_pid = atom("_NET_WM_PID")
        self.idle_ext = self.display.has_extension(SCREEN_SAVER_EXTENSION)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection raises; no matter
            self.display.close()


class X11Reader:
    """The active window of one X display (default ``$DISPLAY``); blocking, thread-safe."""

    def __init__(self, display: str | None = None) -> None:
        self.display = display
        self._conn: _Connection | None = None
        self._reason: str | None = None
        self._lock = threading.Lock()
        self._processes: dict[tuple[int, float], tuple[str | None, str | None]] = {}

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason

    def read(self) -> WindowInfo | None:
        """The active window, or None (none active, or no display: see the reason)."""
        with self._lock:
            conn = self._open()
            if conn is None:
                return None
            try:
                window = self._active(conn)
                return None if window is None else self._describe(conn, window)
            except _WINDOW_GONE:
                return None  # it closed while we read it
            except _BROKEN as exc:
                self._drop(f"the X connection broke ({exc!r}); reconnecting")
                return None

    def idle_seconds(self) -> float | None:
        """Seconds since the last input; ``inf`` while the screen saver is on; None if unknown."""
        with self._lock:
            conn = self._open()
            if conn is None or not conn.idle_ext:
                return None
            try:
                info: Any = screensaver.query_info(conn.root)
            except _BROKEN as exc:
                self._drop(f"the X connection broke ({exc!r}); reconnecting")
                return None
            if info.state == screensaver.StateOn:
                return math.inf
            return float(info.idle) / 1000.0

    def close(self) -> None:
        with self._lock:
            self._drop(None)

    # -- the connection ----------------------------------------------------------------------------

    def _open(self) -> _Connection | None:
        if self._conn is None:
            target = self.display or os.environ.get("DISPLAY")
            if not _may_serve(target):
                self._reason = no_display_reason(target)
                return None
            try:
                self._conn = _Connection(target)
            except _CANNOT_OPEN:
                self._reason = no_display_reason(target)
                return None
            self._reason = None
        return self._conn

    def _drop(self, reason: str | None) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if reason is not None:
            log.warning("window_reader_reset", reason=reason)

    # -- which window ------------------------------------------------------------------------------

    def _active(self, conn: _Connection) -> Window | None:
        prop = conn.root.get_full_property(conn.active, Xatom.WINDOW)
        if prop is not None and len(prop.value) > 0:
            wid = int(prop.value[0])
            return conn.display.create_resource_object("window", wid) if wid else None
        return self._focused_client(conn)

    @staticmethod
    def _focused_client(conn: _Connection) -> Window | None:
        """The input focus walked up to the first window with a ``WM_CLASS``."""
        focus = conn.display.get_input_focus().focus
        if not isinstance(focus, Window):
            return None  # None or PointerRoot
        window = focus
        for _ in range(MAX_DEPTH):
            if window.id == conn.root.id:
                return None
            if window.get_wm_class() is not None:
                return window
            window = window.query_tree().parent
        return None

    # -- what it is --------------------------------------------------------------------------------

    def _describe(self, conn: _Connection, window: Window) -> WindowInfo:
        wm_class = window.get_wm_class()
        pid = _cardinal(window.get_full_property(conn.net_pid, Xatom.CARDINAL))
        process, exe = self._process(pid)
        return WindowInfo(
            window=window.id,
            app=wm_class[1] if wm_class else None,
            title=_title(conn, window),
            pid=pid,
            process=process,
            exe=exe,
            rect=_rect(conn, window),
        )

    def _process(self, pid: int | None) -> tuple[str | None, str | None]:
        if pid is None:
            return None, None
        try:
            proc = psutil.Process(pid)
            key = (pid, proc.create_time())
            if key not in self._processes:
                if len(self._processes) >= PROCESS_CACHE:
                    self._processes.clear()
                self._processes[key] = (proc.name(), _exe(proc))
        except psutil.Error:  # gone, or another host's pid (a remote X client)
            return None, None
        return self._processes[key]


def _may_serve(display: str | None) -> bool:
    """False when no X server can be there: no name, or a local display without its socket.

    Checked first because python-xlib leaks its sockets when a connection fails.
    """
    if not display:
        return False
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if host in ("", "unix") and number.isdigit():
        return (X11_SOCKETS / f"X{number}").exists()
    return True


def _exe(proc: psutil.Process) -> str | None:
    try:
        return proc.exe() or None
    except psutil.Error:  # another user's process: its name is enough
        return None


def _title(conn: _Connection, window: Window) -> str | None:
    prop = window.get_full_property(conn.net_name, conn.utf8)
    if prop is not None and prop.value:
        raw = prop.value
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    else:
        legacy = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
        if legacy is None or not legacy.value:
            return None
        raw = legacy.value
        text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    return text[:TITLE_MAX]


def _cardinal(prop: Any) -> int | None:
    if prop is None or len(prop.value) == 0:
        return None
    return int(prop.value[0]) or None


def _rect(conn: _Connection, window: Window) -> Rect:
    geometry = window.get_geometry()
    origin = conn.root.translate_coords(window, 0, 0)
    return Rect(int(origin.x), int(origin.y), int(geometry.width), int(geometry.height))
