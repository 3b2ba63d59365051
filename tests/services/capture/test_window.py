"""The X11 window reader against a real Xvfb: with openbox (EWMH), bare (input focus), none."""

from __future__ import annotations

import math
from collections.abc import Iterator

import psutil
import pytest

from bench.scenery import XServer, running_xvfb, unused_display_number
from services.capture.attribution import attribute
from services.capture.frames import RawFrame
from services.capture.privacy import DEFAULT_EXCLUDES, Rules
from services.capture.windows import TITLE_MAX, Rect
from services.capture.windows.x11 import X11Reader
from tests.services.capture.desktop import activate, focus, open_window, start_openbox

pytestmark = pytest.mark.display

SIZE = (800, 600)


@pytest.fixture
def desktop() -> Iterator[XServer]:
    """An 800x600 Xvfb managed by openbox."""
    with running_xvfb(SIZE) as server:
        start_openbox(server)
        yield server


@pytest.fixture
def reader(desktop: XServer) -> Iterator[X11Reader]:
    reader = X11Reader(desktop.display)
    yield reader
    reader.close()


def _monitor(number: int, left: int, width: int) -> RawFrame:
    return RawFrame("f", number, 0.0, width, SIZE[1], b"", left=left, top=0)


def test_reads_the_active_window_under_a_window_manager(
    desktop: XServer, reader: X11Reader
) -> None:
    """Under openbox: the active window's class, title, pid, process name and place."""
    editor = open_window(desktop, "Editor", "notes.txt · Editor", "300x200+20+30")
    other = open_window(desktop, "Viewer", "photo.png", "200x100+400+300")
    activate(desktop, editor)
    info = reader.read()
    assert info is not None
    assert (info.app, info.title, info.pid) == ("Editor", "notes.txt · Editor", editor.pid)
    assert info.process == psutil.Process(editor.pid).name()
    assert info.rect is not None
    assert info.rect.overlaps(Rect(20, 30, 300, 200))
    assert not info.rect.overlaps(Rect(400, 300, 200, 100))
    activate(desktop, other)
    switched = reader.read()
    assert switched is not None
    assert (switched.app, switched.title) == ("Viewer", "photo.png")
    assert reader.unavailable_reason is None


def test_a_long_title_is_read_whole_up_to_the_limit(desktop: XServer, reader: X11Reader) -> None:
    """Titles are read in one request sized for ``TITLE_MAX`` characters of up to 4 bytes: a
    title of multi-byte characters longer than that comes back cut at the limit, whole before."""
    title = "Résumé · 履歴書 " * 60  # 840 characters, 1,800 bytes of UTF-8
    win = open_window(desktop, "Writer", title, "300x200+20+30")
    activate(desktop, win)
    info = reader.read()
    assert info is not None
    assert (info.app, info.title) == ("Writer", title[:TITLE_MAX])


def test_bare_x_falls_back_to_the_input_focus() -> None:
    """Without a window manager the focused window (walked up to its top-level) is read."""
    with running_xvfb(SIZE) as server:
        reader = X11Reader(server.display)
        assert reader.read() is None  # nothing has the focus yet
        win = open_window(server, "Lonely", "no manager here", "100x100+10+10")
        focus(server, win)
        info = reader.read()
        reader.close()
    assert info is not None
    assert (info.app, info.title, info.pid) == ("Lonely", "no manager here", win.pid)
    assert info.rect == Rect(10, 10, 100, 100)


def test_no_display_is_unavailable_with_a_reason() -> None:
    """A display nobody serves: read() is None, the reason names the display; no exception."""
    display = f":{unused_display_number()}"
    reader = X11Reader(display)
    assert reader.read() is None
    assert reader.idle_seconds() is None
    assert reader.unavailable_reason is not None
    assert display in reader.unavailable_reason


def test_idle_time_restarts_on_input(desktop: XServer, reader: X11Reader) -> None:
    """xdotool input brings the idle time back near zero."""
    desktop.run("xdotool", "mousemove", "5", "5")
    first = reader.idle_seconds()
    assert first is not None
    assert first < 5
    assert not math.isinf(first)
    before = reader.idle_seconds()
    desktop.run("xdotool", "mousemove", "50", "50")
    after = reader.idle_seconds()
    assert before is not None
    assert after is not None
    assert after <= before + 0.05


def test_a_title_matching_only_after_a_switch_mid_grab_is_excluded(
    desktop: XServer, reader: X11Reader
) -> None:
    """Read A, switch to a private window, read B: excluded, attributed to B, flagged changed."""
    plain = open_window(desktop, "Firefox", "News — Mozilla Firefox", "350x500+10+10")
    private = open_window(
        desktop, "Firefox2", "Bank — Mozilla Firefox Private Browsing", "350x500+420+10"
    )
    activate(desktop, plain)
    before = reader.read()
    activate(desktop, private)  # the switch happens "during the grab"
    after = reader.read()
    monitors = [_monitor(1, 0, 400), _monitor(2, 400, 400)]  # one screen split in two monitors
    seen = attribute(before, after, monitors, Rules(DEFAULT_EXCLUDES))
    assert seen.changed
    assert seen.window is not None
    assert seen.window.title == private.title
    assert seen.excluded == {2}  # only the monitor the private window covers
    calm = attribute(after, after, monitors, Rules(DEFAULT_EXCLUDES))
    assert not calm.changed
    assert calm.excluded == {2}
    plain_only = attribute(before, before, monitors, Rules(DEFAULT_EXCLUDES))
    assert plain_only.excluded == frozenset()
