"""Garbage collection paused for a start-up comes back once the process serves."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from services.foundation import gc_pause

WAIT_S = 5.0


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """Whatever a test does to the collector, pytest's process gets it back as it was."""
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


async def wait_for_a_collection() -> None:
    """Return once the collector has run (it is paused: only ``resume`` runs it)."""
    collected = asyncio.Event()

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.set()

    gc.callbacks.append(on_collection)
    try:
        async with asyncio.timeout(WAIT_S):
            await collected.wait()
    finally:
        gc.callbacks.remove(on_collection)


@pytest.mark.usefixtures("collector_restored")
async def test_resume_later_collects_again_with_the_survivors_frozen() -> None:
    """Paused, then resumed from the loop: collection is automatic again, survivors frozen."""
    gc_pause.pause()
    assert not gc.isenabled()
    gc_pause.resume_later(asyncio.get_running_loop(), delay=0.0)
    await wait_for_a_collection()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collector_restored")
async def test_resume_later_leaves_a_running_collector_alone() -> None:
    """When collection was never paused (the app served some other way), nothing is frozen."""
    gc.enable()
    gc_pause.resume_later(asyncio.get_running_loop(), delay=0.0)
    for _ in range(3):
        await asyncio.sleep(0)  # sleep-ok: lets a callback scheduled for now run
    assert gc.get_freeze_count() == 0
