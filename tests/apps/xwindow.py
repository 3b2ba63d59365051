"""A real X client with a known class and title: ``python -m tests.apps.xwindow CLASS TITLE GEOM``.

Maps one top-level window of ``GEOM`` (``WxH+X+Y``) with ``WM_CLASS`` = (class lowercased, CLASS),
``_NET_WM_NAME`` = TITLE (UTF-8), ``WM_NAME`` = TITLE in Latin-1, and ``_NET_WM_PID``; fills it with
a colour derived from the title so that the screen changes when it shows. Runs until killed.
"""

from __future__ import annotations

import os
import re
import sys
import zlib

from Xlib import X, Xatom
from Xlib.display import Display


def main(argv: list[str]) -> None:
    wm_class, title, geometry = argv
    width, height, left, top = map(int, re.split(r"[x+]", geometry))
    display = Display()
    screen = display.screen()
    colour = zlib.crc32(title.encode()) & 0xFFFFFF
    window = screen.root.create_window(
        left, top, width, height, 0, screen.root_depth,
        background_pixel=colour, event_mask=X.ExposureMask | X.StructureNotifyMask,
    )  # fmt: skip
    window.set_wm_class(wm_class.lower(), wm_class)
    window.set_wm_name(title.encode("latin-1", "replace").decode("latin-1"))  # legacy name
    window.change_property(
        display.intern_atom("_NET_WM_NAME"), display.intern_atom("UTF8_STRING"), 8, title.encode()
    )
    window.change_property(display.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [os.getpid()])
    window.set_wm_normal_hints(flags=3, min_width=width, min_height=height)  # USPosition|USSize
    window.map()
    display.sync()
    while True:
        display.next_event()


if __name__ == "__main__":
    main(sys.argv[1:])
