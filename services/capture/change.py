"""Decide per monitor whether a frame changed meaningfully since the last kept one.

Two steps, cheapest first:

1. exact equality with the last *seen* frame of the monitor, remembered by its size and XXH3-128
   digest (0.15 ms for a 1920x1080 frame, as fast as the memcmp with a kept copy it replaced, and
   8 MB less held per monitor): an identical frame gets the same verdict as that frame had against
   the kept one, which is "nothing new" either way;
2. otherwise a downscaled comparison: both frames reduced to grey cells of ``CELL`` x ``CELL``
   pixels (box average); the share of cells whose grey level moved by more than ``CELL_DELTA`` is
   the frame's score, and it is kept when the score exceeds the threshold.

The cells of the last kept frame are its :class:`Fingerprint`: small, and all a later frame is
compared with, so a restarted process seeded with the saved ones (``fingerprints.py``) does not
keep an unchanged screen again.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import xxhash
from PIL import Image, ImageChops

from services.capture.frames import RawFrame

CELL = 12  # pixels per side of one comparison cell
CELL_DELTA = 6  # grey levels (of 255) a cell must move to count as changed


class Verdict(msgspec.Struct, frozen=True):
    """Whether to keep a frame, and its changed share of cells (0 when identical)."""

    keep: bool
    score: float
    exact: bool = False


def cells(frame: RawFrame) -> Image.Image:
    """The frame as grey ``CELL``-pixel cells.

    The BGRA bytes are read in place as RGBX (no copy): red and blue trade places in the grey
    weights, which does not matter when every frame is read the same way.
    """
    image = Image.frombuffer("RGBX", frame.size, frame.bgra, "raw", "RGBX", 0, 1)
    return image.reduce(CELL).convert("L")


def changed_share(before: Image.Image, after: Image.Image) -> float:
    """The share of cells whose grey level differs by more than ``CELL_DELTA``."""
    moved = ImageChops.difference(before, after).point(lambda v: 255 if v > CELL_DELTA else 0)
    histogram = moved.histogram()
    return histogram[255] / max(1, before.width * before.height)


class Fingerprint(msgspec.Struct, frozen=True):
    """The grey cells of a kept frame: ``width`` x ``height`` cells, one byte each."""

    width: int
    height: int
    cells: bytes

    @classmethod
    def of(cls, image: Image.Image) -> Fingerprint:
        return cls(image.width, image.height, image.tobytes())

    def image(self) -> Image.Image:
        return Image.frombytes("L", (self.width, self.height), self.cells)


Digest = tuple[int, int, bytes]  # a frame's width, height and XXH3-128 of its pixels


def digest(frame: RawFrame) -> Digest:
    """What the exact-equality step remembers of a frame (two frames differing in any pixel
    share it with a chance of 2**-128)."""
    return frame.width, frame.height, xxhash.xxh3_128_digest(frame.bgra)


class _Monitor(msgspec.Struct):
    seen: Digest | None
    kept_cells: Image.Image | None


class ChangeDetector:
    """Per-monitor memory of the last seen frame and the cells of the last kept one.

    ``kept`` seeds the memory with fingerprints of frames kept before (by an earlier process).
    """

    def __init__(self, threshold: float, kept: Mapping[int, Fingerprint] | None = None) -> None:
        self.threshold = threshold
        self._monitors = {
            monitor: _Monitor(seen=None, kept_cells=fingerprint.image())
            for monitor, fingerprint in (kept or {}).items()
        }

    def check(self, frame: RawFrame) -> Verdict:
        """Judge ``frame`` against its monitor's last kept frame and remember it as seen."""
        state = self._monitors.get(frame.monitor)
        seen = digest(frame)
        if state is not None and state.seen == seen:
            return Verdict(keep=False, score=0.0, exact=True)
        current = cells(frame)
        kept = state.kept_cells if state is not None else None
        if kept is None or kept.size != current.size:
            verdict = Verdict(keep=True, score=1.0)
        else:
            score = changed_share(kept, current)
            verdict = Verdict(keep=score > self.threshold, score=score)
        self._monitors[frame.monitor] = _Monitor(
            seen=seen, kept_cells=current if verdict.keep else kept
        )
        return verdict

    def force_keep(self, frame: RawFrame) -> None:
        """Record ``frame`` as kept whatever its verdict (a forced ``capture_now``)."""
        self._monitors[frame.monitor] = _Monitor(seen=digest(frame), kept_cells=cells(frame))

    def kept(self, monitor: int) -> Fingerprint | None:
        """The fingerprint of ``monitor``'s last kept frame, if any."""
        state = self._monitors.get(monitor)
        if state is None or state.kept_cells is None:
            return None
        return Fingerprint.of(state.kept_cells)

    def forget(self) -> None:
        """Forget every monitor: the next frame of each is kept (e.g. after the display changed)."""
        self._monitors.clear()
