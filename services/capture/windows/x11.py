"""The active window on X11, with python-xlib over one connection kept open.

Under an EWMH window manager the root window's ``_NET_ACTIVE_WINDOW`` names the active window;
without one (bare X, a minimal WM) the input focus is walked up to the first window that has a
``WM_CLASS``: the client's top-level window. Title: ``_NET_WM_NAME`` (UTF-8), else ``WM_NAME``;
application: the class part of ``WM_CLASS``; pid: ``_NET_WM_PID``, whose name and executable come
from psutil. The geometry is translated to root coordinates, so the caller can tell which
monitors the window covers. Idle time comes from the MIT-SCREEN-SAVER extension.

Each X request is a round trip to the server, and capture reads the active window twice per grab:
the window's properties, geometry and position are asked all at once and their replies read
after (python-xlib's deferred requests), so a read costs two round trips (which window, then what
it is) instead of one per request (seven or more).

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
from Xlib.protocol import request
from Xlib.xobject.drawable import Window

from services.capture.windows import TITLE_MAX, Rect, WindowInfo, no_display_reason

log = structlog.get_logger("capture.windows")

SCREEN_SAVER_EXTENSION = "MIT-SCREEN-SAVER"
X11_SOCKETS = Path("/tmp/.X11-unix")
MAX_DEPTH = 64  # parents walked up from the focus before giving up
PROCESS_CACHE = 64  # (pid, create time) → name and exe, kept for this many processes
# 32-bit units asked of a property, in one request: a title of TITLE_MAX characters of up to 4
# bytes each, WM_CLASS's two names (the server sends only what the property holds).
TITLE_LONGS = TITLE_MAX
CLASS_LONGS = 256
_WINDOW_GONE = (error.BadWindow, error.BadDrawable, error.BadMatch, error.BadValue)
_BROKEN = (error.ConnectionClosedError, error.XError, OSError)  # the connection is unusable
_CANNOT_OPEN = (error.DisplayError, error.XauthError, error.ConnectionClosedError, OSError)


class _Connection:
    """An open display, its root window and the atoms the reader asks for."""

    def __init__(self, name: str | None) -> None:
        self.display = Display(name)
        self.protocol = self.display.display  # python-xlib's protocol-level display
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
        active = _value(_ask_property(conn, conn.root.id, conn.active, Xatom.WINDOW, 1))
        if active is not None and len(active[1]) > 0:
            wid = int(active[1][0])
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
        wid = window.id
        # Every request goes out before the first reply is read: one round trip for all.
        wm_class = _ask_property(conn, wid, Xatom.WM_CLASS, Xatom.STRING, CLASS_LONGS)
        net_pid = _ask_property(conn, wid, conn.net_pid, Xatom.CARDINAL, 1)
        net_name = _ask_property(conn, wid, conn.net_name, conn.utf8, TITLE_LONGS)
        wm_name = _ask_property(conn, wid, Xatom.WM_NAME, X.AnyPropertyType, TITLE_LONGS)
        geometry = request.GetGeometry(display=conn.protocol, defer=True, drawable=wid)
        origin = request.TranslateCoords(
            display=conn.protocol, defer=True, src_wid=wid, dst_wid=conn.root.id, src_x=0, src_y=0
        )
        app = _class_name(_value(wm_class))
        pid = _cardinal(_value(net_pid))
        title = _title(_value(net_name), _value(wm_name))
        geometry.reply()
        origin.reply()
        process, exe = self._process(pid)
        return WindowInfo(
            window=wid,
            app=app,
            title=title,
            pid=pid,
            process=process,
            exe=exe,
            rect=Rect(int(origin.x), int(origin.y), int(geometry.width), int(geometry.height)),
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


Property = tuple[int, Any]  # a property's format (8, 16 or 32) and its value


def _ask_property(
    conn: _Connection, window: int, atom: int, kind: int, longs: int
) -> request.GetProperty:
    """Send a GetProperty request now; :func:`_value` reads its reply."""
    return request.GetProperty(
        display=conn.protocol,
        defer=True,
        delete=False,
        window=window,
        property=atom,
        type=kind,
        long_offset=0,
        long_length=longs,
    )


def _value(asked: request.GetProperty) -> Property | None:
    """The property's format and value, or None if the window does not have it (raises the
    request's X error, such as ``BadWindow`` for a window gone meanwhile)."""
    asked.reply()
    if not asked.property_type:
        return None
    fmt, value = asked.value
    return int(fmt), value


def _class_name(prop: Property | None) -> str | None:
    """The class part of ``WM_CLASS`` (``instance\0class\0``, Latin-1)."""
    if prop is None or prop[0] != 8:
        return None
    parts = bytes(prop[1]).decode("latin-1").split("\0")
    return parts[1] if len(parts) >= 2 else None


def _title(net_name: Property | None, wm_name: Property | None) -> str | None:
    """``_NET_WM_NAME`` (UTF-8), else ``WM_NAME`` (Latin-1); at most ``TITLE_MAX`` characters."""
    if net_name is not None and net_name[1]:
        raw = net_name[1]
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    elif wm_name is not None and wm_name[1]:
        raw = wm_name[1]
        text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    else:
        return None
    return text[:TITLE_MAX]


def _cardinal(prop: Property | None) -> int | None:
    if prop is None or len(prop[1]) == 0:
        return None
    return int(prop[1][0]) or None
