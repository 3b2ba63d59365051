"""A desktop for the window tests: Xvfb, optionally openbox (a real EWMH window manager), and real
X windows with known classes and titles (:mod:`tests.apps.xwindow`), switched with ``xdotool``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from Xlib import X
from Xlib.display import Display

from bench.scenery import XServer
from tests.services.capture.harness import REPO

WM_TIMEOUT = 15.0


def wait_until(condition: Callable[[], bool], timeout: float = WM_TIMEOUT, what: str = "") -> None:
    """Poll ``condition`` (a cheap X query) until it holds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # sleep-ok: polling an X property, under a deadline


def _has_wm(display: str) -> bool:
    conn = Display(display)
    try:
        check = conn.intern_atom("_NET_SUPPORTING_WM_CHECK")
        return conn.screen().root.get_full_property(check, X.AnyPropertyType) is not None
    finally:
        conn.close()


def start_openbox(server: XServer) -> None:
    """Run openbox on ``server``; return once it manages the screen (EWMH properties set)."""
    wm = subprocess.Popen(
        ["openbox", "--sm-disable"],
        env=server.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server.clients.append(wm)
    wait_until(lambda: _has_wm(server.display), what="openbox to manage the screen")


@dataclass(frozen=True)
class Win:
    """A window a test opened: its X id and the process that owns it."""

    id: int
    pid: int
    wm_class: str
    title: str


def open_window(server: XServer, wm_class: str, title: str, geometry: str) -> Win:
    """Map a window of class ``wm_class`` titled ``title``; return once it is visible."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.apps.xwindow", wm_class, title, geometry],
        env={**server.env(), "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    server.clients.append(proc)
    found = subprocess.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--classname", f"^{wm_class.lower()}$"],
        env=server.env(), check=True, capture_output=True, text=True, timeout=WM_TIMEOUT,
    )  # fmt: skip
    return Win(int(found.stdout.split()[0]), proc.pid, wm_class, title)


def activate(server: XServer, win: Win) -> None:
    """Make ``win`` the active window (through the window manager) and wait until it is."""
    server.run("xdotool", "windowactivate", "--sync", str(win.id))


def focus(server: XServer, win: Win) -> None:
    """Give ``win`` the input focus directly (no window manager needed)."""
    server.run("xdotool", "windowfocus", "--sync", str(win.id))
