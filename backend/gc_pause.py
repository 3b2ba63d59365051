"""No garbage collection while the backend starts.

Its imports and app allocate tens of thousands of tracked objects, and the collector ran about 135
times on the way (~25 ms), finding little:
the start-up's objects live as long as the process. ``python -m backend`` pauses it first thing;
the server resumes it :data:`RESUME_DELAY` seconds after it serves, not at once, so that the first
full pass does not fall on main's first ``/health`` probe. Resuming runs that full pass, then
freezes what survives (``gc.freeze``): later passes never scan the start-up's objects again.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

RESUME_DELAY = 1.0  # seconds after serving


def pause() -> None:
    """Stop automatic collection until :func:`resume`."""
    gc.disable()


def resume_later(loop: asyncio.AbstractEventLoop, delay: float = RESUME_DELAY) -> None:
    """:func:`resume` in ``delay`` seconds on ``loop``, if collection is paused."""
    if not gc.isenabled():
        loop.call_later(delay, resume)


def resume() -> None:
    """Collect once, keep what survives out of later passes, and collect automatically again."""
    gc.collect()
    gc.freeze()
    gc.enable()
