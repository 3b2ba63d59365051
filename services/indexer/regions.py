"""Which parts of a frame to read again: the cells that changed since the last frame read.

The idea of capture's change detector (``services/capture/change.py``), with a different
question: not *how much* changed but *where*. Both frames, in grey, are compared pixel by pixel;
a ``CELL`` x ``CELL`` cell changed when any pixel in it moved by more than ``PIXEL_DELTA`` grey
levels (lossy encoding noise stays below). Changed cells close to each other (``JOIN`` cells)
become one rectangle, grown by ``MARGIN`` pixels and then to the whole box of every word of the
previous reading it touches, so that no word is cut in two; overlapping rectangles merge.

:func:`carry_over` keeps the previous reading's words outside every rectangle: the pixels there
are the same, and so is their text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

import msgspec
from PIL import Image, ImageChops

CELL = 16  # pixels per side of one cell
PIXEL_DELTA = 24  # grey levels a pixel must move to count as a change
JOIN = 2  # changed cells at most this many cells apart belong to one region
MARGIN = 8  # pixels added around every region
FULL_SHARE = 0.5  # regions covering more of the frame than this: read the whole frame


class Box(msgspec.Struct, frozen=True):
    """A rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return self.w * self.h

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def grown(self, margin: int, size: tuple[int, int]) -> Box:
        """This box with ``margin`` pixels on every side, inside a picture of ``size``."""
        x, y = max(0, self.x - margin), max(0, self.y - margin)
        right, bottom = min(size[0], self.right + margin), min(size[1], self.bottom + margin)
        return Box(x, y, right - x, bottom - y)


class Boxed(Protocol):
    """Anything with a box (a word)."""

    @property
    def box(self) -> Box: ...


W = TypeVar("W", bound=Boxed)


class Plan(msgspec.Struct, frozen=True):
    """How to read a frame: all of it, or only ``regions`` (none: nothing changed)."""

    full: bool
    regions: tuple[Box, ...] = ()


FULL = Plan(full=True)


def changed_cells(before: Image.Image, after: Image.Image) -> set[tuple[int, int]]:
    """The (column, row) of every cell where a pixel moved by more than ``PIXEL_DELTA``."""
    moved = ImageChops.difference(before.convert("L"), after.convert("L"))
    marks = moved.point(lambda v: 255 if v > PIXEL_DELTA else 0).reduce(CELL)
    columns = marks.width
    return {
        (index % columns, index // columns) for index, value in enumerate(marks.tobytes()) if value
    }


def _clusters(cells: set[tuple[int, int]]) -> list[Box]:
    """One bounding box (in cells) per group of cells at most ``JOIN`` cells apart."""
    left = set(cells)
    boxes: list[Box] = []
    while left:
        start = left.pop()
        stack, x0, y0, x1, y1 = [start], start[0], start[1], start[0], start[1]
        while stack:
            cx, cy = stack.pop()
            x0, y0, x1, y1 = min(x0, cx), min(y0, cy), max(x1, cx), max(y1, cy)
            near = {
                (cx + dx, cy + dy) for dx in range(-JOIN, JOIN + 1) for dy in range(-JOIN, JOIN + 1)
            }
            found = near & left
            left -= found
            stack.extend(found)
        boxes.append(Box(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    return boxes


def merge(boxes: Iterable[Box]) -> list[Box]:
    """``boxes`` with every overlapping pair replaced by their union, until none overlap."""
    merged: list[Box] = []
    for box in boxes:
        while True:
            hit = next((other for other in merged if other.overlaps(box)), None)
            if hit is None:
                break
            merged.remove(hit)
            box = box.union(hit)
        merged.append(box)
    return merged


def _cover_words(regions: list[Box], words: Sequence[Boxed]) -> list[Box]:
    """Grow ``regions`` over every word they touch, merging, until no word is cut."""
    while True:
        grown: list[Box] = []
        for region in regions:
            for word in words:
                if region.overlaps(word.box):
                    region = region.union(word.box)
            grown.append(region)
        grown = merge(grown)
        if grown == regions:
            return grown
        regions = grown


def plan(before: Image.Image | None, after: Image.Image, words: Sequence[Boxed] = ()) -> Plan:
    """How to read ``after`` given the last frame read on its monitor and that frame's words."""
    if before is None or before.size != after.size:
        return FULL
    cells = changed_cells(before, after)
    if not cells:
        return Plan(full=False)
    pixels = [
        Box(box.x * CELL, box.y * CELL, box.w * CELL, box.h * CELL).grown(MARGIN, after.size)
        for box in _clusters(cells)
    ]
    regions = _cover_words(merge(pixels), words)
    if sum(box.area for box in regions) > FULL_SHARE * after.width * after.height:
        return FULL
    return Plan(full=False, regions=tuple(sorted(regions, key=lambda box: (box.y, box.x))))


def carry_over(words: Sequence[W], regions: Sequence[Box]) -> list[W]:
    """The words that lie outside every region (their pixels did not change)."""
    return [word for word in words if not any(word.box.overlaps(box) for box in regions)]
