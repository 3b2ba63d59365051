"""No garbage collection while the frontend starts.

Its imports allocate some 30,000 tracked objects, and the collector ran about 70 times on the way
(~10 ms of a ~130 ms start), finding little: they live as long as the process. ``python -m
frontend`` pauses it first thing; :func:`resume`, once the dashboard serves and its backend link is
open, runs one full pass, freezes what survives (``gc.freeze``: later passes never scan the
start-up's objects again) and collects automatically again. (The backend does the same:
``backend.gc_pause``.)
"""

from __future__ import annotations

import gc


def pause() -> None:
    """Stop automatic collection until :func:`resume`."""
    gc.disable()


def resume() -> None:
    """Collect once, keep what survives out of later passes, collect automatically again; a
    no-op if collection was not paused (a frontend run inside another process, such as a test)."""
    if gc.isenabled():
        return
    gc.collect()
    gc.freeze()
    gc.enable()
