"""Give a process's big buffers back to the system as soon as they are freed (glibc only).

Capture and the indexer handle whole pictures in asyncio's worker threads: capture grabs, checks
and encodes frames (8 MB each at 1920x1080, BGRA, and as much again to encode a kept one: Pillow's
RGB copy, libwebp's ARGB and YUV planes); the indexer decodes stored ones and cuts out their
changed regions. glibc maps a block that big on its own and unmaps it on free, but only until the
first such free: then it raises its mmap threshold to the freed block's size (up to 32 MB), and
every later picture comes from a heap instead. Each worker thread has a glibc arena of its own,
and each arena keeps the most it ever held. Capture, grabbing a changing 1920x1080 screen every
second, went from 67 MB to 110-137 MB RSS within two minutes (three arenas of ~33 MB each) while
tracemalloc saw no growth (31 MB traced, a third of it the two frames alive): not a leak, the
allocator. The indexer, reading one stored 1920x1080 picture after another, grew the same way: 55
to 80 MB in the first five minutes of a 30-minute soak, 97 MB at its end.

Setting the threshold (``mallopt(M_MMAP_THRESHOLD)``) turns that adjustment off: from then on every
block of :data:`MMAP_THRESHOLD` bytes or more is mapped and unmapped on its own, whatever thread
allocates it. glibc's own starting value, 128 KiB, kept fixed, also maps the encoded image
(~230 KB), its copies and the upload body; a 1 MiB threshold left those in the arenas, which then
held 2-3 MB each and crept up (69 to 71.5 MB in 7 minutes against a flat 65-67 MB).

The price is the page faults of fresh mappings instead of reused heap pages. Measured one after
the other, one new 1920x1080 picture a second, every frame kept: RSS 94-148 MB before, 66-69 after;
minor faults 1,200 to 7,100 a second; CPU 52 to 62 ms per kept frame (grab, check, encode, upload).
An unchanged grab (mss copies each frame out of its shared memory) costs its 8 MB of faults,
about 4 ms. Holding the peak instead (one arena, ``MALLOC_ARENA_MAX=1``) kept RSS at 75-91 MB.
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's default starting value, kept fixed


def is_glibc() -> bool:
    """Whether this process runs on glibc (whose mallopt takes M_MMAP_THRESHOLD)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # not a name this platform knows
        return False


def map_big_blocks() -> bool:
    """Serve every block of :data:`MMAP_THRESHOLD` bytes or more with its own mapping, unmapped
    on free; False (and nothing changed) where the C library is not glibc or refuses."""
    if not is_glibc():
        return False
    libc = ctypes.CDLL(None)  # this process's own symbols, libc's mallopt among them
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
