"""Grabbing under a real Xvfb: every monitor, real pixels, and clear errors without a display."""

from __future__ import annotations

import pytest

from services.capture.grabber import Grabber, GrabError
from tests.fixtures.display import XServer, running_xvfb, unused_display_number

pytestmark = pytest.mark.display


def pixel(frame_bgra: bytes | bytearray, width: int, x: int, y: int) -> tuple[int, int, int]:
    offset = (y * width + x) * 4
    blue, green, red = frame_bgra[offset : offset + 3]
    return red, green, blue


def test_grabs_the_screen_painted_by_an_x_client(xvfb: XServer) -> None:
    """The frame of monitor 1 is 1920x1080 and shows the colour xsetroot painted."""
    xvfb.fill("#20c040")
    grabber = Grabber(xvfb.display)
    try:
        [frame] = grabber.grab_all()
    finally:
        grabber.close()
    assert (frame.monitor, frame.width, frame.height) == (1, 1920, 1080)
    assert len(frame.bgra) == 1920 * 1080 * 4
    assert pixel(frame.bgra, frame.width, 960, 540) == (0x20, 0xC0, 0x40)


def test_each_grab_gets_a_fresh_id(xvfb: XServer) -> None:
    """Frame ids are unique: they are the uploads' idempotency keys."""
    grabber = Grabber(xvfb.display)
    try:
        ids = {grabber.grab_all()[0].id for _ in range(5)}
    finally:
        grabber.close()
    assert len(ids) == 5


def test_unset_display_is_a_grab_error_that_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without DISPLAY the grab fails with a reason, not a traceback."""
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(GrabError, match="DISPLAY is not set"):
        Grabber().grab_all()


def test_grabber_recovers_when_the_x_server_comes_back() -> None:
    """A dead X server is a GrabError; once a server runs there again, grabs work."""
    number = unused_display_number()
    grabber = Grabber(f":{number}")
    with pytest.raises(GrabError, match=f"cannot open display :{number}"):
        grabber.grab_all()
    with running_xvfb(number=number) as server:
        server.fill("white")
        assert grabber.grab_all()[0].width == 1920
    with pytest.raises(GrabError):
        grabber.grab_all()
    with running_xvfb(number=number):
        assert len(grabber.grab_all()) == 1
    grabber.close()
