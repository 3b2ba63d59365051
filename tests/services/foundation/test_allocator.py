"""Frame-sized blocks go back to the system once freed, in a fresh python each (glibc only)."""

from __future__ import annotations

import pytest

from services.foundation.allocator import is_glibc
from tests.fixtures.processes import python_output

FRAME = 1920 * 1080 * 4
PROBE = f"""
import os
from services.foundation.allocator import map_big_blocks

def rss_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

print(map_big_blocks())
first = b"\\1" * {FRAME}
del first  # glibc raises its mmap threshold past a frame here, unless it was set
frame = b"\\1" * {FRAME}  # every page written
held = rss_kib()
del frame
print(held - rss_kib())
"""


@pytest.mark.skipif(not is_glibc(), reason="the mmap threshold is glibc's")
def test_a_freed_frame_leaves_resident_memory() -> None:
    """After map_big_blocks, freeing a second 1080p frame returns its pages to the system."""
    mapped, returned_kib = python_output(PROBE).split()
    assert mapped == "True"
    assert int(returned_kib) >= FRAME * 0.9 // 1024
