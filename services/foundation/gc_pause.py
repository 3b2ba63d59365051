"""No garbage collection while a process starts (the launcher, main, the backend, the frontend).

Their imports and app allocate tens of thousands of tracked objects, and the collector ran some
60-135 times on the way (6-25 ms of each start), finding little: those objects live as long as the
process. ``ctxbus up``, ``python -m services.main``, ``python -m backend`` and ``python -m
frontend`` :func:`pause` it first thing; :func:`resume`, once the process serves (or is ready),
runs one full pass, freezes what survives (``gc.freeze``: later passes never scan the start-up's
objects again) and collects automatically again. Each resumes :data:`RESUME_DELAY` seconds after
that (:func:`resume_later`), so that the full pass does not fall on the next step of the start
(main's first ``/health`` probe, the backend's last steps, the launcher's ready line). Any
other ``ctxbus`` command collects again at once, without a pass (:func:`cancel`).
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


def cancel() -> None:
    """Collect automatically again, without a pass now (a short-lived process)."""
    gc.enable()


def resume() -> None:
    """Collect once, keep what survives out of later passes, collect automatically again; a
    no-op if collection was not paused (a process run inside another, such as a test)."""
    if gc.isenabled():
        return
    gc.collect()
    gc.freeze()
    gc.enable()
